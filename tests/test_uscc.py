import numpy as np
import pandas as pd
from stdnum.cn import uscc as stdnum_uscc

from riskclass import uscc


def test_generated_codes_are_valid_unique_and_typed():
    rng = np.random.default_rng(0)
    prefixes = np.array(["91", "92", "93"] * 500, dtype=object)
    divisions = np.array(["440802"] * 1500, dtype=object)
    out = uscc.generate(rng, prefixes, divisions)
    assert all(stdnum_uscc.is_valid(c) for c in out)
    assert len(set(out)) == len(out)
    assert [c[:2] for c in out[:3]] == ["91", "92", "93"]


def test_check_results_on_real_and_broken_codes():
    values = pd.Series(
        [
            "91110108551385082Q",
            "91110000600037341L",
            uscc.corrupt_check_character("91110108551385082Q"),
            "9111010855138508",
            "91110108551385082q",
            "",
            "9111010855138508IQ",
        ]
    )
    fmt, chk = uscc.check_results(values)
    assert fmt.tolist() == [True, True, True, False, False, False, False]
    assert chk.tolist() == [True, True, False, False, False, False, False]
