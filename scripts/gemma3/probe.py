import sys, time, json, numpy as np, torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.metrics import f1_score
d = {k: torch.load(f"/tmp/gprobe/{k}.pt") for k in ("it_train", "it_val", "en_train", "en_val")}
depths = d["it_train"]["depths"]
res = []
for pool in (sys.argv[1:] or ["mean", "last"]):
    for di, dep in enumerate(depths):
        Xtr = np.concatenate([d["it_train"][pool][di].numpy(), d["en_train"][pool][di].numpy()])
        ytr = np.array(d["it_train"]["labels"] + d["en_train"]["labels"])
        lang = np.array(["it"] * len(d["it_train"]["labels"]) + ["en"] * len(d["en_train"]["labels"]))
        # class weights per (lang,label) cell, balance 0.5 as nlp.train
        cells = {}
        for l, y in zip(lang, ytr): cells[(l, y)] = cells.get((l, y), 0) + 1
        w = np.array([cells[(l, y)] ** -0.5 for l, y in zip(lang, ytr)]); w *= len(w) / w.sum()
        sc = StandardScaler().fit(Xtr)
        out = {"pool": pool, "depth": dep}
        for C in (0.1,):
            clf = LogisticRegression(C=C, max_iter=2000).fit(sc.transform(Xtr), ytr, sample_weight=w)
            for part in ("it_val", "en_val"):
                p = clf.predict(sc.transform(d[part][pool][di].numpy()))
                out[f"{part[:2]}_C{C}"] = round(f1_score(d[part]["labels"], p, average="macro"), 3)
            # English-only head -> Italian (cross-lingual transfer)
        en_only = LogisticRegression(C=0.1, max_iter=2000).fit(sc.transform(d["en_train"][pool][di].numpy()), d["en_train"]["labels"])
        out["it_from_en_only"] = round(f1_score(d["it_val"]["labels"], en_only.predict(sc.transform(d["it_val"][pool][di].numpy())), average="macro"), 3)
        print(json.dumps(out), flush=True); res.append(out)
json.dump(res, open("/tmp/gprobe/probe.json", "w"), indent=1)
