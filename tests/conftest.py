"""Hypothesis profiles for the whole suite.

"bounded" (the default) reports a failing property as soon as one case fails: no shrinking
(on a case that runs both engines, shrinking can take longer than CI allows), the first failure
only, and a `@reproduce_failure` blob that replays the case exactly. For a smaller example to
debug, run the one test with `--hypothesis-profile=shrink`.
"""

from hypothesis import Phase, settings

settings.register_profile("bounded", phases=(Phase.explicit, Phase.reuse, Phase.generate),
                          report_multiple_bugs=False, print_blob=True)
settings.register_profile("shrink", phases=tuple(Phase), report_multiple_bugs=False, print_blob=True)
settings.load_profile("bounded")
