"""training.trainable_tokens: the tool-call tags' rows train with the LoRA and travel with it.

Bad input tried: a "token" the tokenizer splits into several pieces (refused before any job
runs, naming the setting).
"""

from __future__ import annotations

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from configs.settings import TrainingConfig
from train_app.job_runner import TrainingSetupError, trainable_token_ids
from train_app.train_loop import WorkerSpec, build_model


def test_the_default_tags_resolve_to_one_token_each(tiny_model_dir):
    ids = trainable_token_ids(tiny_model_dir, TrainingConfig())
    assert len(ids) == 2 and ids[0] != ids[1]
    assert trainable_token_ids(tiny_model_dir, TrainingConfig(method="full")) == []
    assert trainable_token_ids(tiny_model_dir, TrainingConfig(trainable_tokens=[])) == []


def test_a_token_of_several_pieces_is_refused(tiny_model_dir):
    with pytest.raises(TrainingSetupError, match=r"training.trainable_tokens: 'tool_call'"):
        trainable_token_ids(tiny_model_dir, TrainingConfig(trainable_tokens=["tool_call"]))


def test_trained_tag_rows_change_the_output_of_the_saved_adapter(tiny_model_dir, tmp_path):
    """The tied lm_head row moves with the embedding row: the tag's logit changes."""
    torch.manual_seed(0)  # LoRA's initialisation and dropout: one in ten unseeded runs failed
    training = TrainingConfig()
    tag = trainable_token_ids(tiny_model_dir, training)[0]
    spec = WorkerSpec(
        job_id="t",
        base_model_path=str(tiny_model_dir),
        train_file="",
        validation_file="",
        training=training,
        trainable_token_ids=[tag],
    )
    model, _ = build_model(spec, torch.device("cpu"))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.05)
    prompt = torch.tensor([[1, 2, 3]])
    for _ in range(5):
        loss = -model(input_ids=prompt).logits[0, -1].log_softmax(-1)[tag]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(tmp_path / "adapter")

    def tag_log_prob(served: torch.nn.Module) -> float:
        with torch.no_grad():
            return served(input_ids=prompt).logits[0, -1].log_softmax(-1)[tag].item()

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    before = tag_log_prob(base)
    tuned = PeftModel.from_pretrained(base, tmp_path / "adapter")
    with_adapter = tag_log_prob(tuned)
    assert with_adapter > before + 1.0
    # Served alone the adapter is merged: the tag rows go into the (tied) weights.
    assert tag_log_prob(tuned.merge_and_unload()) == pytest.approx(with_adapter, abs=1e-4)


def _spec(model_dir, training: TrainingConfig) -> WorkerSpec:
    return WorkerSpec(
        job_id="t",
        base_model_path=str(model_dir),
        train_file="",
        validation_file="",
        training=training,
        trainable_token_ids=trainable_token_ids(model_dir, training),
    )


@pytest.mark.parametrize("stop", [False, True])
def test_stop_backward_below_lora_leaves_the_lower_layers_forward_only(tiny_model_dir, stop):
    """The trained tag rows pull the backward pass down to the embedding unless it is cut at
    the lowest LoRA layer; cut, the tag's output row still learns."""
    torch.manual_seed(0)
    training = TrainingConfig(layers_to_transform=[3], stop_backward_below_lora=stop)
    model, _ = build_model(_spec(tiny_model_dir, training), torch.device("cpu"))
    reached = []
    model.get_decoder().layers[1].register_full_backward_hook(lambda *_: reached.append(1))
    tag = trainable_token_ids(tiny_model_dir, training)[0]
    prompt = torch.tensor([[1, 2, 3]])
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.05)

    def tag_log_prob() -> float:
        return model(input_ids=prompt).logits[0, -1].log_softmax(-1)[tag]

    with torch.no_grad():
        before = tag_log_prob().item()
    for _ in range(5):
        (-tag_log_prob()).backward()
        optimizer.step()
        optimizer.zero_grad()
    assert bool(reached) is not stop
    with torch.no_grad():
        assert tag_log_prob().item() > before + 1.0


def test_stop_backward_below_lora_needs_lora_layers():
    with pytest.raises(ValueError, match="layers_to_transform"):
        TrainingConfig(stop_backward_below_lora=True)
    with pytest.raises(ValueError, match="layers_to_transform"):
        TrainingConfig(method="full", layers_to_transform=[3], stop_backward_below_lora=True)
