"""Exercise checks for notebook 01 (the dummy GPT skeleton)."""

from .base import Verdict, as_ints, no_answer_yet, report

# tok_emb (50257 x 768) + pos_emb (1024 x 768) + out_head (768 x 50257, no bias);
# the placeholder blocks and norm have no parameters.
_DUMMY_PARAMETERS = 50257 * 768 + 1024 * 768 + 768 * 50257  # 77,981,184


def check_logits_shape(answer):
    """Exercise 1: the logits shape for a batch of 3 texts of 6 tokens each."""
    if no_answer_yet(answer):
        return Verdict(False)
    shape = as_ints(answer)
    if shape is None:
        return report(False, "", "give the shape as a tuple or list of three integers, "
                      "e.g. (2, 4, 50257), or a torch.Size")
    return report(
        shape == (3, 6, 50257),
        "One row of 50,257 scores (one per vocabulary entry) for each of the "
        "6 positions of each of the 3 texts.",
        "the shape is [batch, seq_len, vocab_size]: how many texts, how many "
        "tokens per text, and how many scores per token?",
    )


def check_dummy_parameter_count(answer):
    """Exercise 2: the number of trainable parameters of DummyGPTModel(GPT_CONFIG_124M)."""
    if no_answer_yet(answer):
        return Verdict(False)
    if isinstance(answer, bool) or not isinstance(answer, int):
        return report(False, "", "give a whole number (an int), e.g. 123456")
    if answer == _DUMMY_PARAMETERS:
        return report(
            True,
            "50257*768 (token embedding) + 1024*768 (position embedding) + "
            "768*50257 (output head) = 77,981,184; the placeholders have none.",
            "",
        )
    if answer == 50257 * 768 * 2:
        hint = "you counted the token embedding and the output head; what else has weights?"
    elif answer == 50257 * 768 + 1024 * 768:
        hint = "you counted both embeddings; the output head has weights too."
    else:
        hint = ("add up the weight matrices: token embedding, position embedding and "
                "output head (nn.Linear with bias=False); the dummy block and norm have none.")
    return report(False, "", hint)
