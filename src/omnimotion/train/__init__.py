"""omnimotion.train: test-time optimisation of an OmniMotion model on one prepared sequence."""

from omnimotion.train.losses import LossInputs, compute_losses, weighted_total
from omnimotion.train.options import TrainConfig
from omnimotion.train.sampler import CorrespondenceBatch, CorrespondenceSampler
from omnimotion.train.schedules import loss_weights, max_interval, pair_weight
from omnimotion.train.trainer import NonFiniteLossError, Trainer, fit, output_dir

__all__ = ["TrainConfig", "Trainer", "fit", "output_dir", "NonFiniteLossError", "CorrespondenceBatch",
           "CorrespondenceSampler", "LossInputs", "compute_losses", "weighted_total", "loss_weights",
           "max_interval", "pair_weight"]
