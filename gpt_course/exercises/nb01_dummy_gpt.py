"""Exercise checks for notebook 01 (the dummy GPT skeleton)."""

from ..language import tr
from .base import NotYet, answer_check, as_int, as_ints

VOCAB_SIZE, CONTEXT_LENGTH, EMB_DIM = 50257, 1024, 768  # GPT_CONFIG_124M

TOKEN_EMBEDDING = VOCAB_SIZE * EMB_DIM         # 38,597,376
POSITION_EMBEDDING = CONTEXT_LENGTH * EMB_DIM  # 786,432
OUTPUT_HEAD = EMB_DIM * VOCAB_SIZE             # 38,597,376 (nn.Linear with bias=False)
# The placeholder blocks and norm, and dropout, have no parameters.
DUMMY_PARAMETERS = TOKEN_EMBEDDING + POSITION_EMBEDDING + OUTPUT_HEAD  # 77,981,184


@answer_check(as_ints, "give the shape as a tuple or list of three whole numbers, "
                       "e.g. (2, 4, 50257), or a torch.Size")
def check_logits_shape(shape):
    """Exercise 1: the logits shape for a batch of 3 texts of 6 tokens each."""
    if len(shape) != 3:
        raise NotYet(tr("you gave {n} numbers; the logits have three dimensions: "
                        "[batch, seq_len, vocab_size].", n=len(shape)))
    if shape == (3, 6, EMB_DIM):
        raise NotYet("768 is emb_dim, the width inside the model; the output head turns each "
                     "768-number vector into one score per vocabulary entry.")
    if shape == (6, 3, VOCAB_SIZE):
        raise NotYet("batch first: the order is [batch, seq_len, vocab_size].")
    if shape == (2, 4, VOCAB_SIZE):
        raise NotYet("that is the shape for the notebook's batch of 2 texts of 4 tokens; "
                     "the question has 3 texts of 6 tokens.")
    if shape != (3, 6, VOCAB_SIZE):
        raise NotYet("the shape is [batch, seq_len, vocab_size]: how many texts, how many "
                     "tokens per text, and how many scores per token?")
    return ("One row of 50,257 scores (one per vocabulary entry) for each of the "
            "6 positions of each of the 3 texts.")


@answer_check(as_int, "give one whole number, e.g. 123456 (an int, or "
                      "sum(p.numel() for p in model.parameters()))")
def check_dummy_parameter_count(total):
    """Exercise 2: the number of trainable parameters of DummyGPTModel(GPT_CONFIG_124M)."""
    if total == TOKEN_EMBEDDING + OUTPUT_HEAD:
        raise NotYet("you counted the token embedding and the output head; what else has "
                     "weights?")
    if total == TOKEN_EMBEDDING + POSITION_EMBEDDING:
        raise NotYet("you counted both embeddings; the output head has weights too.")
    if total == DUMMY_PARAMETERS + VOCAB_SIZE:
        raise NotYet("the output head has no bias (nn.Linear(..., bias=False)): leave out "
                     "its 50,257 bias values.")
    if total != DUMMY_PARAMETERS:
        raise NotYet("add up the weight matrices: token embedding, position embedding and "
                     "output head (nn.Linear with bias=False); the dummy blocks and norm "
                     "have none.")
    return ("50257*768 (token embedding) + 1024*768 (position embedding) + 768*50257 "
            "(output head) = 77,981,184; the placeholders have none.")
