"""texts/s of Gemma 3 270M truncated to k layers + mean pool, batch 32, one thread, tokenization included."""
import os, sys, time, random
import torch
torch.set_num_threads(1)
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
from nlp.data import read_examples, stratified_split, default_data_path
from nlp.text import normalise
from transformers import AutoTokenizer, AutoModelForCausalLM
ex = read_examples(default_data_path()); _, val = stratified_split(ex, 0.1, seed=13)
texts = [e.text for e in random.Random(1).sample(val, int(os.environ.get("BENCH_TEXTS", 512)))]
tok = AutoTokenizer.from_pretrained("/tmp/gemma270m/fp32")
full = AutoModelForCausalLM.from_pretrained("/tmp/gemma270m/fp32", dtype=torch.float32).model.eval()
layers = full.layers
for k in [int(a) for a in sys.argv[1:]]:
    full.layers = layers[:k]; full.config.num_hidden_layers = k
    def run():
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for s in range(0, len(order), 32):
                b = tok([normalise(texts[i]) for i in order[s:s+32]], truncation=True, max_length=128, padding=True, return_tensors="pt")
                h = full(**b, use_cache=False).last_hidden_state
                m = b["attention_mask"].float(); m[:, 0] = 0
                (h * m[..., None]).sum(1) / m.sum(1, keepdim=True)
    run() if k == int(sys.argv[1]) else None
    best = None
    for _ in range(2):
        w, c = time.perf_counter(), time.process_time(); run()
        w, c = time.perf_counter() - w, time.process_time() - c
        best = (w, c) if best is None or w < best[0] else best
    print(f"depth {k}: {len(texts)/best[0]:.0f} texts/s wall, {1000*best[1]/len(texts):.2f} CPU ms/text (1 thread, batch 32, load {os.getloadavg()[0]:.1f})", flush=True)
