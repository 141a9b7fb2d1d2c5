"""Every name ``omnimotion.__all__`` lists can be imported (they are loaded on first use)."""

import importlib

import pytest

import omnimotion


@pytest.mark.parametrize("name", omnimotion.__all__)
def test_public_name_resolves(name):
    assert getattr(omnimotion, name) is not None


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        omnimotion.nothing  # noqa: B018


def test_importing_a_light_module_does_not_load_the_pipeline():
    import subprocess
    import sys

    code = "import sys, omnimotion.coords; print('omnimotion.api' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    assert importlib.import_module("omnimotion.api").track_video is omnimotion.track_video
