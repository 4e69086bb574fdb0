import sys; sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
from collections import Counter
from nlp.data import read_examples, stratified_split, default_data_path
from nlp.text import normalise
from transformers import AutoTokenizer
ex = read_examples(default_data_path()); train, val = stratified_split(ex, 0.1, seed=13)
g = AutoTokenizer.from_pretrained("/tmp/gemma270m/fp32")
c = Counter(); 
for x in g([normalise(e.text) for e in train], truncation=True, max_length=128)["input_ids"]: c.update(x)
vi = g([normalise(e.text) for e in val if e.lang=="it"], truncation=True, max_length=128)["input_ids"]
ve = g([normalise(e.text) for e in val if e.lang=="en"], truncation=True, max_length=128)["input_ids"]
for mf in (1, 2):
    keep = {t for t, n in c.items() if n >= mf}
    for name, v in (("it", vi), ("en", ve)):
        tot = sum(len(x) for x in v); miss = sum(t not in keep for x in v for t in x)
        print(f"min_freq {mf}: {len(keep)} ids kept; {name} val tokens unseen: {miss/tot:.2%}, texts with any unseen: {sum(any(t not in keep for t in x) for x in v)/len(v):.1%}")
    print(f"  embedding rows {len(keep)+1} x 640: fp16 {(len(keep)+1)*640*2/1e6:.1f} MB, int8 {(len(keep)+1)*640/1e6:.1f} MB")
