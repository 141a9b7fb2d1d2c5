"""Resource requests per task, and how a failed task is described."""

import pytest

from omnimotion.batch.cluster import TaskResources, describe_task_failure
from omnimotion.cli.main import main


def test_options_ask_for_cpus_gpus_memory_and_retry_only_lost_workers():
    resources = TaskResources(cpus=2, gpus=0.5, memory_gb=1.5, max_retries=3)
    assert resources.options() == {"num_cpus": 2, "num_gpus": 0.5, "memory": 1610612736, "max_retries": 3,
                                   "retry_exceptions": False}
    assert resources.options(use_gpu=False)["num_gpus"] == 0
    assert "memory" not in TaskResources().options()  # no reservation unless asked


@pytest.mark.parametrize("flag", [["--cpus-per-video", "0"], ["--gpus-per-video", "-1"],
                                  ["--memory-per-video", "0"], ["--max-retries", "-1"]])
def test_bad_resource_flags_are_one_line_errors(tmp_path, capsys, flag):
    (tmp_path / "a.mp4").write_bytes(b"x")
    assert main(["batch", str(tmp_path / "a.mp4"), "--out", str(tmp_path / "runs"), *flag]) == 1
    err = capsys.readouterr().err
    assert "must be" in err and "Traceback" not in err


def test_failure_reason_is_the_tasks_own_exception_or_the_lost_worker():
    exceptions = pytest.importorskip("ray.exceptions")
    cause = ValueError("video.mp4 gives 1 frame(s); OmniMotion needs at least 2 frames")
    wrapped = exceptions.RayTaskError("run_stage", "Traceback ...", cause)
    assert describe_task_failure(wrapped, 2) == f"ValueError: {cause}"
    lost = exceptions.WorkerCrashedError()
    assert describe_task_failure(lost, 2).startswith("WorkerCrashedError (after 2 retries): ")
