"""MIST_ORG_ID's forms: one id (the single-org deployment), a comma-separated list, `*`."""

from __future__ import annotations

import pytest

from settings import SettingError, load_worker_settings

A = "2818e386-8dec-4f2c-9ae8-1f0b2a7b9d11"
B = "9b3a6f1e-1c4d-4e2a-8f0b-6a1d2c3e4f50"


def _load(value: str, tmp_path):
    return load_worker_settings({"MIST_API_TOKEN": "t", "MIST_ORG_ID": value}, tmp_path / ".env")


def test_one_id_is_the_single_org_deployment(tmp_path):
    loaded = _load(f" {A.upper()} ", tmp_path)
    assert loaded.org_id == A and loaded.org_ids == (A,) and not loaded.multi_org


def test_empty_detects_the_one_org(tmp_path):
    loaded = _load("", tmp_path)
    assert loaded.org_id is None and loaded.org_ids == () and not loaded.multi_org


def test_a_list_is_several_orgs_in_order_without_repeats(tmp_path):
    loaded = _load(f"{B}, {A.upper()},{B},", tmp_path)
    assert loaded.org_ids == (B, A) and loaded.org_id is None and loaded.multi_org
    assert _load(f"{A},{A}", tmp_path).org_id == A  # the same org twice is one org


def test_star_is_every_org_the_tokens_read(tmp_path):
    loaded = _load("*", tmp_path)
    assert loaded.all_orgs and loaded.multi_org and loaded.org_id is None


@pytest.mark.parametrize("value", [f"{A},nope", "**", f"*,{A}", "all", f"{A};{B}"])
def test_anything_else_names_mist_org_id(value, tmp_path):
    with pytest.raises(SettingError) as caught:
        _load(value, tmp_path)
    assert caught.value.setting == "MIST_ORG_ID" and "comma" in str(caught.value)
