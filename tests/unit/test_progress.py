"""Job progress bookkeeping (the state the ProgressTracker actor holds)."""

from __future__ import annotations

from train_app.progress import JobProgress


def record(progress: JobProgress, step: int, total: int = 10, loss: float = 1.0) -> None:
    progress.record_step(
        step=step,
        total_steps=total,
        epoch=0,
        loss=loss,
        learning_rate=1e-4,
        tokens_per_second=500.0,
        seconds_per_step=2.0,
    )


def test_steps_move_a_pending_job_to_running_with_percent_and_eta():
    progress = JobProgress(job_id="j")
    record(progress, 3)
    snap = progress.snapshot()
    assert snap["state"] == "running" and snap["is_training"] is True
    assert snap["progress"] == 30.0
    assert snap["eta_seconds"] == 14.0
    assert "30%" in snap["message"]
    assert snap["loss_history"] == [{"step": 3, "loss": 1.0}]


def test_stop_request_is_seen_and_final_state_sticks():
    progress = JobProgress(job_id="j")
    record(progress, 1)
    assert progress.request_stop() is True
    assert progress.snapshot()["state"] == "stopping" and progress.stop_requested
    record(progress, 2)
    assert progress.state == "stopping"  # steps in flight do not undo the stop
    progress.set_state("stopped", "stopped")
    progress.set_state("running", "late message")
    assert progress.state == "stopped"
    assert progress.snapshot()["is_training"] is False
    assert progress.request_stop() is False


def test_succeeded_job_reports_full_progress():
    progress = JobProgress(job_id="j")
    record(progress, 9)
    progress.set_state("succeeded", "done")
    assert progress.progress == 100.0


def test_micro_batches_show_the_step_under_way_and_the_next_step_resets_them():
    progress = JobProgress(job_id="j")
    progress.record_micro_batch(done=1, per_step=4, total_steps=10)
    snap = progress.snapshot()
    assert snap["state"] == "running" and snap["step"] == 0
    assert snap["progress"] == 2.5  # a quarter of the first of ten steps
    assert "step 1/10: micro-batch 1/4" in snap["message"]
    record(progress, 1)
    assert progress.snapshot()["micro_batch"] == 0 and progress.progress == 10.0
    progress.record_micro_batch(done=3, per_step=4, total_steps=10)
    assert progress.progress == 17.5 and "step 2/10: micro-batch 3/4" in progress.message


def test_micro_batches_of_a_stopping_job_keep_its_message():
    progress = JobProgress(job_id="j")
    progress.request_stop()
    progress.record_micro_batch(done=1, per_step=2, total_steps=4)
    assert progress.state == "stopping" and progress.message.startswith("stop requested")
