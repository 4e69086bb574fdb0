"""Mean-pooled (BOS excluded) and last-token hidden states of Gemma 3 270M at several depths."""
import os, sys, time, random, json
os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch
torch.set_num_threads(1)
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
from nlp.data import read_examples, stratified_split, default_data_path
from nlp.text import normalise
from transformers import AutoTokenizer, AutoModelForCausalLM

DEPTHS = [2, 4, 6, 8, 10, 12]
MAXD = max(DEPTHS)
N_EN_TRAIN, N_EN_VAL = int(sys.argv[1]), int(sys.argv[2])

ex = read_examples(default_data_path())
train, val = stratified_split(ex, 0.1, seed=13)
rng = random.Random(13)
en_tr = [e for e in train if e.lang == "en"]; en_va = [e for e in val if e.lang == "en"]
sel = {
    "it_train": [e for e in train if e.lang == "it"],
    "it_val": [e for e in val if e.lang == "it"],
    "en_train": rng.sample(en_tr, min(N_EN_TRAIN, len(en_tr))),
    "en_val": rng.sample(en_va, min(N_EN_VAL, len(en_va))) if N_EN_VAL < len(en_va) else en_va,
}
print({k: len(v) for k, v in sel.items()}, flush=True)
tok = AutoTokenizer.from_pretrained("/tmp/gemma270m/fp32")
model = AutoModelForCausalLM.from_pretrained("/tmp/gemma270m/fp32", dtype=torch.float32)
body = model.model
body.layers = body.layers[:MAXD]
body.config.num_hidden_layers = MAXD
body.config.layer_types = body.config.layer_types[:MAXD]
body.eval()
print("attn impl", body.config._attn_implementation, flush=True)

def encode(texts):
    return tok([normalise(t) for t in texts], truncation=True, max_length=128)["input_ids"]

for name, exs in sel.items():
    out = f"/tmp/gprobe/{name}.pt"
    if os.path.exists(out):
        continue
    ids = encode([e.text for e in exs])
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    mean = torch.zeros(len(DEPTHS), len(ids), 640); last = torch.zeros(len(DEPTHS), len(ids), 640)
    t0 = time.time()
    with torch.inference_mode():
        for s in range(0, len(order), 32):
            chunk = order[s:s + 32]
            L = [len(ids[i]) for i in chunk]; W = max(L)
            x = torch.full((len(chunk), W), tok.pad_token_id, dtype=torch.long)
            m = torch.zeros((len(chunk), W), dtype=torch.long)
            for r, i in enumerate(chunk):
                x[r, :L[r]] = torch.tensor(ids[i]); m[r, :L[r]] = 1
            hs = body(input_ids=x, attention_mask=m, output_hidden_states=True).hidden_states
            pm = m.clone().float(); pm[:, 0] = 0  # exclude BOS from the mean
            if W == 1: pm[:, 0] = 1
            for d_i, d in enumerate(DEPTHS):
                h = hs[d]
                mean[d_i, chunk] = (h * pm[..., None]).sum(1) / pm.sum(1, keepdim=True).clamp(min=1)
                last[d_i, chunk] = h[torch.arange(len(chunk)), torch.tensor(L) - 1]
            if (s // 32) % 20 == 0:
                print(name, s, len(order), f"{time.time()-t0:.0f}s", flush=True)
    dt = time.time() - t0
    print(f"{name}: {len(ids)} texts in {dt:.0f}s ({len(ids)/dt:.1f}/s at depth {MAXD})", flush=True)
    torch.save({"mean": mean, "last": last, "labels": [e.label for e in exs], "sources": [e.source for e in exs],
                "depths": DEPTHS, "ntok": [len(i) for i in ids]}, out)
