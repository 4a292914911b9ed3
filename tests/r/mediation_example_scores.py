"""Write tests/fixtures/mediation/example_scores.csv: the bundled youth export's first-wave
act_total, pbr_core and out_total (scored by peerscale) with the worker id, so that
tests/r/mediation.R fits lavaan on exactly the scores `peerscale mediation` uses.
Run from the repository root: python tests/r/mediation_example_scores.py"""

import peerscale
from peerscale.examples import path

src = path("youth_export.csv")
frames = []
for inst, scale in (("act-y", "act_total"), ("pbr-y", "pbr_core"), ("out-y", "out_total")):
    r = peerscale.read(src, inst).wave("first")
    s = r.score().scores
    frames.append(s[[scale]] if frames else s[["record_id", "worker_id", scale]])
out = frames[0].join(frames[1:])
out.to_csv("tests/fixtures/mediation/example_scores.csv", index=False, float_format="%.15g")
print(out.shape)
