"""The training CLI's configuration: recipes merged over the defaults, then --set overrides."""

from __future__ import annotations

import pytest
import yaml

from configs.store import ConfigError
from train_app.cli import build_config, parse_overrides


def test_set_parses_dotted_paths_and_yaml_values():
    assert parse_overrides(["training.num_epochs=5", "training.target_modules=[q_proj]"]) == {
        "training": {"num_epochs": 5, "target_modules": ["q_proj"]}
    }
    with pytest.raises(ConfigError, match="section.field=value"):
        parse_overrides(["training.num_epochs"])


def test_recipe_then_set_override_the_defaults(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"training": {"method": "full", "num_epochs": 7}}))
    config = build_config([str(recipe)], ["training.num_epochs=9"])
    assert config.training.method == "full"
    assert config.training.num_epochs == 9
    assert config.tools.timeout_s == 10.0  # untouched defaults stay


def test_invalid_override_names_the_field():
    with pytest.raises(ConfigError, match=r"training\.batch_size"):
        build_config([], ["training.batch_size=many"])
    # Every generated turn without a call would leave nothing to learn about calling tools.
    with pytest.raises(ConfigError, match=r"data\.no_tool_share"):
        build_config([], ["data.no_tool_share=1.0"])


def test_shipped_recipe_validates_and_trains_lora_over_the_default_model():
    """The recipe README documents for the shipped adapter: a typo would surface an hour in."""
    recipe = build_config(["configs/recipes/qwen_tools_lora.yaml"], [])
    assert recipe.model.model_path == build_config([], []).model.model_path
    assert recipe.training.method == "lora"
    assert recipe.training.layers_to_transform and recipe.training.time_budget_s
    categories = 5  # simple, multiple, parallel, irrelevance, registry
    assert recipe.training.eval_max_examples == recipe.data.eval_rows_per_category * categories
