"""Trainer: test-time optimisation of one OmniMotion model on one prepared sequence (docs/method.md#training).

One step samples ``num_pairs x num_pts`` correspondences (``CorrespondenceSampler``), evaluates the loss
terms of the model variant ``method`` names (``omnimotion.train.variant_losses``: the official losses and
schedule for the faithful ``omnimotion`` model, ``surface_losses`` for the fast ``surface`` model,
docs/method.md#single-surface-variant), sums them with their weights and takes one Adam step (one parameter
group per group the variant names, at the learning rates its losses give; StepLR decay every step). Sampler,
schedule of learning rates, checkpoints and mining are the same for every variant.

Outputs, under ``<data_dir>/<save_dir>/<expname>`` (an absolute ``save_dir`` is used as is):
``model_XXXXXX.pth`` checkpoints (omnimotion.io.checkpoint), ``args.txt`` (the configuration; ``--config``
loads it back), ``flow_error.txt`` (per-frame hard-mining error) and ``logs/`` (tensorboard). A resumed run restores the
model, optimiser, schedule, sampler and RNG states, so on CPU with one thread it reproduces an uninterrupted
run exactly (with more threads this was not verified; README).
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
from pathlib import Path
from typing import Any, Protocol

import torch

from omnimotion.io.atomic import remove_stale_temporaries, save_text
from omnimotion.io.checkpoint import (checkpoint_path, checkpoint_step, latest_checkpoint, load_checkpoint,
                                      save_checkpoint, stored_method)
from omnimotion.io.datadir import DataDir
from omnimotion.io.device import resolve_device
from omnimotion.io.lock import FolderLock
from omnimotion.io.threads import use_threads
from omnimotion.model import ModelConfig, build_model, get_variant, load_model_state
from omnimotion.preprocess.record import check_prepared_outputs
from omnimotion.train.losses import weighted_total
from omnimotion.train.mining import compute_error_maps
from omnimotion.train.options import TrainConfig
from omnimotion.train.sampler import CorrespondenceSampler
from omnimotion.train.tb_logging import TrainLogger
from omnimotion.train.variant_losses import variant_losses

__all__ = ["Trainer", "fit", "NonFiniteLossError", "RunConfig"]

log = logging.getLogger(__name__)


class RunConfig(Protocol):
    """What training reads from ``omnimotion.config.OmniMotionConfig`` (a dataclass; the model settings come
    from the section the variant of ``train.method`` names, e.g. ``surface`` for the surface model)."""

    data_dir: str
    model: ModelConfig
    train: TrainConfig

    def to_text(self) -> str:
        """The whole configuration in the config-file format, written as ``args.txt`` (loadable with --config)."""


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the step and the terms."""


class Trainer:
    """Holds the model, optimiser, schedule, sampler, step and output folder of one run."""

    def __init__(self, data_dir: str | Path, cfg: RunConfig):
        self.cfg = cfg
        self.tcfg: TrainConfig = cfg.train
        if self.tcfg.distributed:
            raise ValueError("distributed training is not implemented; set distributed = 0")
        self.device = resolve_device(self.tcfg.device)
        use_threads(self.tcfg.threads, "training")
        # Late in a faithful run, tiny values (Adam statistics, gradients) fall into the denormal range, where
        # x86 float arithmetic is many times slower (benchmarks/NOTES.md). Flushing them to zero changes
        # nothing above 1e-38. Process-wide, CPU only.
        torch.set_flush_denormal(True)
        self.data = DataDir(data_dir)
        torch.manual_seed(self.tcfg.seed)
        self.sampler = CorrespondenceSampler(self.data, self.tcfg, self.tcfg.num_imgs)
        self.sampler.check_files()
        check_prepared_outputs(self.data)  # before step 0: a damaged flow must not surface mid-run
        self.num_frames = self.sampler.num_frames
        if self.num_frames < self.data.num_frames:
            log.warning("training on the first %d of the %d frames of %s (num_imgs = %d, the official default "
                        "is 250): tracks will cover only those frames; set num_imgs = 0 for all frames",
                        self.num_frames, self.data.num_frames, data_dir, self.tcfg.num_imgs)
        self.method = self.tcfg.method
        self.variant = get_variant(self.method)
        self.model = build_model(self.method, cfg, self.num_frames, self.sampler.image_hw).to(self.device)
        # random choices inside a step (the stratified jitter) have their own generator, so that its state
        # can be checkpointed exactly
        self.generator = torch.Generator(device=self.device).manual_seed(self.tcfg.seed)
        self.losses = variant_losses(self.method, self.tcfg, self.num_frames, self.sampler.image_hw,
                                     self.generator)
        self.losses.initialise(self.model, self.data)
        self.optimizer = torch.optim.Adam(self._param_groups())
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=self.tcfg.lrate_decay_steps,
                                                         gamma=self.tcfg.lrate_decay_factor)
        self.step = 0
        self.out_dir = output_dir(self.data.root, self.tcfg)
        self._stop_requested = False
        self.history: list[dict[str, float]] = []  # scalars of every step of this process, for benchmarks

    def _param_groups(self) -> list[dict[str, Any]]:
        lrs = self.losses.learning_rates()
        groups = [{"params": params, "lr": lrs[name], "name": name}
                  for name, params in self.variant.parameter_groups(self.model).items()]
        grouped = {id(p) for g in groups for p in g["params"]}
        stray = [n for n, p in self.model.named_parameters() if id(p) not in grouped]
        if stray:
            raise RuntimeError(f"model parameters outside the groups {[g['name'] for g in groups]} would not be "
                               f"trained: {stray}")
        return groups

    # ----- one step ---------------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        """One optimisation step at ``self.step``; returns the logged scalars (terms, total, lr)."""
        step = self.step
        batch = self.sampler.sample(step).to(self.device)
        terms = self.losses.terms(self.model, batch, step)
        loss = weighted_total(terms, self.losses.weights(step))
        if not torch.isfinite(loss):
            values = ", ".join(f"{k}={v.item():.4g}" for k, v in terms.items())
            raise NonFiniteLossError(
                f"the training loss became {loss.item()} at step {step} ({values}); the last checkpoint in "
                f"{self.out_dir} is kept. Try another --seed or lower learning rates (lr_deform, lr_color)")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.tcfg.grad_clip > 0:
            for param in self.model.parameters():
                if param.grad is not None:
                    torch.nn.utils.clip_grad_norm_(param, self.tcfg.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        scalars = {k: v.item() for k, v in terms.items()}
        scalars["total"] = loss.item()
        scalars.update({f"lr_{group['name']}": group["lr"] for group in self.optimizer.param_groups})
        return scalars

    # ----- hard mining ----------------------------------------------------------------------------
    def refresh_error_maps(self) -> None:
        """Recompute the hard-example maps from the current model (docs/method.md#hard-example-mining)."""
        maps = compute_error_maps(self.model, self.data, self.num_frames, self.sampler.image_hw,
                                  stride=self.tcfg.error_map_stride, device=self.device)
        self.sampler.set_error_maps(maps)
        save_text(self.out_dir / "flow_error.txt",
                  "".join(f"{e:.6f}\n" for e in self.sampler.frame_errors))
        log.info("step %d: hard-example maps refreshed (mean error %.3f px)", self.step,
                 float(self.sampler.frame_errors.mean()))

    # ----- checkpoints ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {key: module.state_dict()
                                 for key, module in self.variant.state_modules(self.model).items()}
        state.update(method=self.method, optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(),
                     num_imgs=self.num_frames, step=self.step, sampler=self.sampler.state_dict(),
                     rng={"torch": torch.get_rng_state(), "generator": self.generator.get_state()},
                     config=dataclasses.asdict(self.cfg), image_hw=list(self.sampler.image_hw))
        return state

    def save(self) -> Path:
        path = save_checkpoint(checkpoint_path(self.out_dir, self.step), self.state_dict())
        log.info("saved %s", path)
        return path

    def load(self, path: str | Path) -> None:
        """Continue from a checkpoint (ours, or official: then only weights, optimiser and schedule)."""
        state = load_checkpoint(path, map_location=self.device)
        if state.get("num_imgs", self.num_frames) != self.num_frames:
            raise ValueError(f"checkpoint {path} was trained on {state['num_imgs']} frames but "
                             f"{self.data.root} gives {self.num_frames}; the model is tied to its frame count")
        stored = stored_method(state)
        if stored != self.method:
            raise ValueError(f"checkpoint {path} holds a '{stored}' model but method = {self.method}; set "
                             f"--method {stored} or train from scratch with --no_reload")
        load_model_state(self.variant, self.model, state, path)
        _warn_changed_settings(path, state.get("config", {}), dataclasses.asdict(self.cfg),
                               self.variant.config_section, self.variant.config_key_prefix)
        if self.tcfg.load_opt and "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
        if self.tcfg.load_scheduler and "scheduler" in state:
            self.scheduler.load_state_dict(state["scheduler"])
        self.step = int(state.get("step", checkpoint_step(path)))
        if "sampler" in state:
            self.sampler.load_state_dict(state["sampler"])
        if "rng" in state:
            torch.set_rng_state(state["rng"]["torch"].cpu())
            self.generator.set_state(state["rng"]["generator"].cpu())
        log.info("resumed from %s at step %d", path, self.step)

    def resume_if_possible(self, require: bool = False) -> Path | None:
        """Load ``ckpt_path`` or the newest checkpoint of the output folder unless ``no_reload``."""
        if self.tcfg.no_reload:
            return None
        path = Path(self.tcfg.ckpt_path) if self.tcfg.ckpt_path else latest_checkpoint(self.out_dir)
        if path is None:
            if require:
                raise FileNotFoundError(f"--resume: no model_*.pth checkpoint in {self.out_dir}")
            return None
        self.load(path)
        return path

    # ----- the loop ---------------------------------------------------------------------------------
    def fit(self) -> Path:
        """Train until ``num_iters``; checkpoint every ``i_weight`` steps, at the end and on Ctrl-C."""
        tcfg = self.tcfg
        self.out_dir.mkdir(parents=True, exist_ok=True)
        save_text(self.out_dir / "args.txt", self.cfg.to_text())
        logger = TrainLogger(self.out_dir / "logs", tcfg, initial=self.step)
        last = None
        with _stop_on_sigint(self), logger:
            while self.step < tcfg.num_iters:
                if tcfg.use_error_map and self.step > 0 and self.step % tcfg.i_cache == 0:
                    self.refresh_error_maps()
                scalars = self.train_step()
                self.history.append(scalars)
                logger.scalars(self.step, scalars)
                if self.step % tcfg.i_img == 0:
                    logger.images(self.step, self.model)
                if self.step % tcfg.i_weight == 0 or self._stop_requested:
                    last = self.save()
                if self._stop_requested:
                    raise KeyboardInterrupt(f"interrupted at step {self.step}; saved {last}")
        if last is None or checkpoint_step(last) != self.step:
            last = self.save()
        return last


_RUN_ONLY_KEYS = {"num_iters", "ckpt_path", "no_reload", "load_opt", "load_scheduler", "device", "threads",
                  "progress", "tensorboard", "i_print", "i_img", "i_weight", "local_rank"}
"""Training keys that may change between a run and its resumption without changing what is trained."""


def _warn_changed_settings(path: str | Path, saved: dict[str, Any], current: dict[str, Any], model_section: str,
                           model_prefix: str) -> None:
    """Warn, naming the keys, when a run resumes with other settings than its checkpoint was trained with.

    Only the sections that define what a run trains are compared: ``train`` and the model variant's
    ``model_section`` (whose keys carry ``model_prefix``); tracking settings may change freely.
    """
    prefixes = {"train": "", model_section: model_prefix}
    changed = [(prefixes[section] + key, old, current[section][key])
               for section in prefixes
               if isinstance(saved.get(section), dict) and isinstance(current.get(section), dict)
               for key, old in sorted(saved[section].items())
               if key in current[section] and key not in _RUN_ONLY_KEYS and current[section][key] != old]
    if changed:
        log.warning("resuming from %s with other settings than it was trained with: %s; the run goes on with the "
                    "new values (add --no_reload to train from scratch with them)", path,
                    ", ".join(f"{name} {old!r} -> {new!r}" for name, old, new in changed))


class _stop_on_sigint:
    """While active, the first Ctrl-C asks the loop to save and stop after the current step; a second one
    interrupts at once. Only the main thread can install signal handlers; elsewhere this does nothing."""

    def __init__(self, trainer: Trainer):
        self.trainer = trainer
        self.previous = None

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame) -> None:  # noqa: ANN001
        if self.trainer._stop_requested:
            raise KeyboardInterrupt
        log.warning("Ctrl-C: saving a checkpoint after this step (press again to quit without saving)")
        self.trainer._stop_requested = True

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def output_dir(data_dir: str | Path, tcfg: TrainConfig) -> Path:
    """Where a run writes checkpoints and logs: ``<data_dir>/<save_dir>/<expname>`` (absolute save_dir as is)."""
    save_dir = Path(tcfg.save_dir)
    return (save_dir if save_dir.is_absolute() else Path(data_dir) / save_dir) / (tcfg.expname or "default")


def fit(data_dir: str | Path, cfg: RunConfig, resume: bool = False) -> Path:
    """Train (or continue training) on a prepared data directory; returns the final checkpoint path.

    ``resume=True`` requires an existing checkpoint; otherwise the newest one is reloaded automatically
    (official behaviour) unless ``cfg.train.no_reload``.
    One run per output folder: a second ``fit`` on the same folder refuses while this one holds its lock.
    """
    trainer = Trainer(data_dir, cfg)
    with FolderLock(trainer.out_dir, "omnimotion train"):
        if removed := remove_stale_temporaries(trainer.out_dir):
            log.info("removed %d unfinished temporary file(s) of an interrupted run in %s", removed, trainer.out_dir)
        trainer.resume_if_possible(require=resume)
        return trainer.fit()
