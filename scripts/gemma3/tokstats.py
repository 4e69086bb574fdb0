import sys; sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
from nlp.data import read_examples, stratified_split, default_data_path
from nlp.text import normalise
from nlp.bundled import base_classifier
from nlp.labels import LABELS
from transformers import AutoTokenizer
ex = read_examples(default_data_path()); train, val = stratified_split(ex, 0.1, seed=13)
g = AutoTokenizer.from_pretrained("/tmp/gemma270m/fp32")
_, m = base_classifier(LABELS)
for lang in ("it", "en"):
    texts = [normalise(e.text) for e in val if e.lang == lang]
    words = sum(len(t.split()) for t in texts)
    gt = sum(len(x) for x in g(texts, add_special_tokens=False)["input_ids"])
    mt = sum(len(x) for x in m(texts, add_special_tokens=False)["input_ids"])
    gl = [len(x) for x in g(texts)["input_ids"]]
    print(f"{lang}: {len(texts)} texts, {words} words; gemma {gt/words:.2f} tok/word ({sum(gl)/len(gl):.1f} tok/text incl. BOS, >64: {sum(l>64 for l in gl)/len(gl):.1%}); minilm {mt/words:.2f} tok/word")
print(g.tokenize(normalise("purtroppo il servizio è pessimo, non compro più")))
