"""Hypothesis profiles for the whole suite, and the fixtures several test modules share.

"bounded" (the default) reports a failing property as soon as one case fails: no shrinking
(on a case that runs both engines, shrinking can take longer than CI allows), the first failure
only, and a `@reproduce_failure` blob that replays the case exactly. For a smaller example to
debug, run the one test with `--hypothesis-profile=shrink`.
"""

import pytest
from hypothesis import Phase, settings
from recording_files import sample_events, write_run_file

settings.register_profile("bounded", phases=(Phase.explicit, Phase.reuse, Phase.generate),
                          report_multiple_bugs=False, print_blob=True)
settings.register_profile("shrink", phases=tuple(Phase), report_multiple_bugs=False, print_blob=True)
settings.load_profile("bounded")


@pytest.fixture(scope="session")
def run_file(tmp_path_factory):
    """A small speksim run file (50 camera events through a DVS-monitored network)."""
    return write_run_file(tmp_path_factory.mktemp("run") / "run.h5", sample_events(50, 128, 128, 10_000, 1))
