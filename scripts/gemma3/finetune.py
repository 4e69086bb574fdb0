"""Fine-tune Gemma 3 270M truncated to K layers: bottom K-T frozen (cached), top T layers + final norm + linear head
trained on all Italian + a capped English sample (class weights as nlp.train). Usage: finetune.py K T EPOCHS MAX_EN BUDGET_S OUT"""
import os, sys, time, random, math, json
import torch
torch.set_num_threads(1)
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
from nlp.data import read_examples, stratified_split, default_data_path
from nlp.text import normalise
from nlp.labels import LABELS
from nlp.train import _cap_language, _cell_weights, _length_batches
from nlp.metrics import scores_by
from transformers import AutoTokenizer, AutoModelForCausalLM

K, T, EPOCHS, MAX_EN, BUDGET, OUT = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
LR, HEAD_LR = float(os.environ.get("LR", 5e-5)), float(os.environ.get("HEAD_LR", 1e-3))
t_start = time.time()
def log(m): print(f"[{time.strftime('%H:%M:%S')}] {m}", flush=True)
random.seed(13); torch.manual_seed(13)
ex = read_examples(default_data_path())
train, val = stratified_split(ex, 0.1, seed=13)
train = _cap_language(train, "en", MAX_EN, 13)
if os.environ.get("SMOKE"): train, val = train[::100], val[::40]
log(f"train {len(train)} (it {sum(e.lang=='it' for e in train)}), val {len(val)}")
tok = AutoTokenizer.from_pretrained("/tmp/gemma270m/fp32")
body = AutoModelForCausalLM.from_pretrained("/tmp/gemma270m/fp32", dtype=torch.float32).model.eval()
layers, types, norm = body.layers, list(body.config.layer_types), body.norm
ids = tok([normalise(e.text) for e in (*train, *val)], truncation=True, max_length=128)["input_ids"]
F = K - T
# frozen bottom: embeddings + layers[:F], no final norm
body.layers = layers[:F]; body.config.num_hidden_layers = F; body.config.layer_types = types[:F]; body.norm = torch.nn.Identity()
feats = [None] * len(ids)
order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
t0 = time.time()
with torch.inference_mode():
    for s in range(0, len(order), 64):
        chunk = order[s:s + 64]; L = [len(ids[i]) for i in chunk]; W = max(L)
        x = torch.zeros((len(chunk), W), dtype=torch.long); m = torch.zeros((len(chunk), W), dtype=torch.long)
        for r, i in enumerate(chunk): x[r, :L[r]] = torch.tensor(ids[i]); m[r, :L[r]] = 1
        h = body(input_ids=x, attention_mask=m, use_cache=False).last_hidden_state
        for r, i in enumerate(chunk): feats[i] = h[r, :L[r]].to(torch.float16).clone()
log(f"frozen features (embeddings + {F} layers) for {len(ids)} texts in {time.time()-t0:.0f}s")
# top: layers[F:K] + final norm
body.embed_tokens = None
body.layers = layers[F:K]; body.config.num_hidden_layers = T; body.config.layer_types = types[F:K]; body.norm = norm
del layers
head = torch.nn.Sequential(torch.nn.LayerNorm(640), torch.nn.Linear(640, 3)); drop = torch.nn.Dropout(0.1)
def forward(rows, train_mode):
    L = [r.shape[0] for r in rows]; W = max(L)
    h = torch.zeros((len(rows), W, 640)); m = torch.zeros((len(rows), W), dtype=torch.long)
    for i, r in enumerate(rows): h[i, :L[i]] = r.float(); m[i, :L[i]] = 1
    out = body(inputs_embeds=h, attention_mask=m, use_cache=False).last_hidden_state
    pm = m.float(); pm[:, 0] = 0; pm[torch.tensor(L) == 1, 0] = 1
    pooled = (out * pm[..., None]).sum(1) / pm.sum(1, keepdim=True)
    return head(drop(pooled) if train_mode else pooled)
tx, vx = feats[:len(train)], feats[len(train):]
li = {k: i for i, k in enumerate(LABELS)}
ty = torch.tensor([li[e.label] for e in train]); w = _cell_weights(train, 0.5)
for p in body.parameters(): p.requires_grad_(True)
groups = [{"params": list(body.parameters()), "lr": LR}, {"params": list(head.parameters()), "lr": HEAD_LR}]
opt = torch.optim.AdamW(groups, weight_decay=0.01)
spe = math.ceil(len(train) / 32); total = spe * EPOCHS; warm = max(1, int(0.06 * total))
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
def evaluate():
    body.eval(); pred = [None] * len(vx); o = sorted(range(len(vx)), key=lambda i: vx[i].shape[0])
    with torch.inference_mode():
        for s in range(0, len(o), 128):
            c = o[s:s + 128]
            for i, k in zip(c, forward([vx[i] for i in c], False).argmax(-1).tolist()): pred[i] = LABELS[k]
    by = scores_by([e.lang for e in val], [e.label for e in val], pred)
    bys = scores_by([e.source for e in val], [e.label for e in val], pred)
    return {l: round(s["macro_f1"], 4) for l, s in by.items()} | {src: round(s["macro_f1"], 4) for src, s in bys.items()}
rng = random.Random(13); hist = []; stop = False
for ep in range(1, EPOCHS + 1):
    body.train(); t0 = time.time(); ls = 0.0; n = 0
    for step, b in enumerate(_length_batches([len(x) for x in tx], 32, rng), 1):
        logits = forward([tx[i] for i in b], True)
        loss = torch.nn.functional.cross_entropy(logits, ty[b], reduction="none")
        loss = (loss * w[b]).sum() / w[b].sum()
        opt.zero_grad(set_to_none=True); loss.backward()
        torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], 1.0)
        opt.step(); sched.step(); ls += float(loss) * len(b); n += len(b)
        if step % 100 == 0: log(f"epoch {ep} step {step}/{spe} loss {ls/n:.4f} ({time.time()-t0:.0f}s)")
        if time.time() - t_start > BUDGET:
            log(f"time budget reached at epoch {ep} step {step}"); stop = True; break
    r = evaluate(); hist.append({"epoch": ep, "steps": step, "loss": round(ls / n, 4), "seconds": round(time.time() - t0), **r})
    log(json.dumps(hist[-1]))
    if stop: break
os.makedirs(OUT, exist_ok=True)
from safetensors.torch import save_file
sd = {f"top.{k}": v.detach().to(torch.float16).contiguous() for k, v in body.state_dict().items()}
sd |= {f"head.{k}": v.detach().to(torch.float16).contiguous() for k, v in head.state_dict().items()}
save_file(sd, f"{OUT}/trained.safetensors")
json.dump({"K": K, "T": T, "epochs": EPOCHS, "max_english": MAX_EN, "lr": LR, "head_lr": HEAD_LR, "history": hist,
           "seconds": round(time.time() - t_start)}, open(f"{OUT}/result.json", "w"), indent=1)
log("done")
