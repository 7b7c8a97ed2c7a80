#!/usr/bin/env python3
"""Checks an emulated model server with the real clients: OpenAI's Python client (streaming
and not, completions and chat) and prometheus_client's text parser. Used by the integration
tests; prints what it checked and exits 1 on the first mismatch.

Usage: check-emulator.py BASE_URL MODEL
"""
import sys
import urllib.request

import openai
from prometheus_client.parser import text_string_to_metric_families

base, model = sys.argv[1], sys.argv[2]
if not base.startswith("http://127."):
    sys.exit("only loopback servers are checked")
client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=60)


def expect(condition, what):
    if not condition:
        print("FAIL:", what)
        sys.exit(1)
    print("ok:", what)


models = [m.id for m in client.models.list().data]
expect(models == [model], f"models.list() == [{model}] (got {models})")

done = client.completions.create(model=model, prompt="one two three four five", max_tokens=7)
expect(done.usage.prompt_tokens == 5 and done.usage.completion_tokens == 7, f"completion usage 5/7 (got {done.usage})")
expect(done.choices[0].finish_reason == "length", "completion finish_reason length")

pieces = list(client.completions.create(model=model, prompt="a b c", max_tokens=5, stream=True))
text = "".join(p.choices[0].text for p in pieces if p.choices)
expect(text.split() == ["tok"] * 5, f"streamed completion of 5 tokens (got {text!r})")

chat = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hello there"}], max_tokens=4)
expect(chat.choices[0].message.content.split() == ["tok"] * 4, "chat completion of 4 tokens")
chunks = list(client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=3, stream=True))
streamed = "".join((c.choices[0].delta.content or "") for c in chunks if c.choices)
expect(streamed.split() == ["tok"] * 3, f"streamed chat of 3 tokens (got {streamed!r})")

try:
    client.completions.create(model="not-" + model, prompt="x", max_tokens=1)
    expect(False, "unknown model refused")
except openai.NotFoundError:
    expect(True, "unknown model refused with 404")

text = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
families = {f.name: f for f in text_string_to_metric_families(text)}
wanted = {
    "vllm:num_requests_running": "gauge", "vllm:num_requests_waiting": "gauge", "vllm:kv_cache_usage_perc": "gauge",
    "vllm:cache_config_info": "gauge", "vllm:prefix_cache_queries": "counter", "vllm:prefix_cache_hits": "counter",
    "vllm:prompt_tokens": "counter", "vllm:generation_tokens": "counter",
    "vllm:time_to_first_token_seconds": "histogram", "vllm:inter_token_latency_seconds": "histogram",
    "vllm:e2e_request_latency_seconds": "histogram", "vllm:request_queue_time_seconds": "histogram",
}
for name, kind in wanted.items():
    expect(name in families and families[name].type == kind, f"{name} is a {kind}")
info = families["vllm:cache_config_info"].samples[0].labels
expect(info.get("engine") == "0" and int(info["num_gpu_blocks"]) > 0 and info["block_size"] == "16",
       f"cache_config_info carries engine, block_size and num_gpu_blocks ({info})")
for name in wanted:
    if name == "vllm:cache_config_info":
        continue  # its labels are the cache config's fields (vLLM gives it no model_name)
    for sample in families[name].samples:
        if sample.name.endswith(("_created",)):
            continue
        expect(sample.labels.get("model_name") == model and sample.labels.get("engine") == "0",
               f"{sample.name} has model_name and engine labels")
        break
generated = [s.value for s in families["vllm:generation_tokens"].samples if s.name == "vllm:generation_tokens_total"]
expect(generated and generated[0] >= 7 + 5 + 4 + 3, f"generation_tokens_total counts the tokens (got {generated})")
ttft = families["vllm:time_to_first_token_seconds"]
bounds = [s.labels["le"] for s in ttft.samples if s.name.endswith("_bucket")]
expect(bounds[0] == "0.001" and bounds[-1] == "+Inf" and len(bounds) == 23, f"TTFT buckets as vLLM's (got {len(bounds)})")
print("all checks passed")
