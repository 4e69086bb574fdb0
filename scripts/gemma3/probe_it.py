import numpy as np, torch, json
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.metrics import f1_score
tr, va = torch.load("/tmp/gprobe/it_train.pt"), torch.load("/tmp/gprobe/it_val.pt")
ytr = np.array(tr["labels"]); cnt = {y: (ytr == y).sum() for y in set(ytr)}
w = np.array([cnt[y] ** -0.5 for y in ytr]); w *= len(w) / w.sum()
for pool in ("mean", "last"):
    for di, d in enumerate(tr["depths"]):
        sc = StandardScaler().fit(tr[pool][di].numpy())
        clf = LogisticRegression(C=0.1, max_iter=2000).fit(sc.transform(tr[pool][di].numpy()), ytr, sample_weight=w)
        print(json.dumps({"pool": pool, "depth": d, "it_only_head_it_f1": round(f1_score(va["labels"], clf.predict(sc.transform(va[pool][di].numpy())), average="macro"), 3)}), flush=True)
