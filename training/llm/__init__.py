"""Teaching the embedded LLM the caption task: evidence -> caption pairs from H&M train-split products, a LoRA
fine-tune of the GGUF model on CPU (torch, through transformers' GGUF loader), and the adapter written back as GGUF
for llama.cpp (`P2P_LLM_LORA`)."""
