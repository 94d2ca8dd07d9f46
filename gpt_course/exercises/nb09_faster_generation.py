"""Exercise checks for notebook 09 (faster generation: KV cache and sampling)."""

from .base import Verdict, as_int, as_ints, no_answer_yet, report

PROMPT_TOKENS = 4
NEW_TOKENS = 6
# The book's loop runs the whole sequence for each new token: 4 + 5 + ... + 9.
POSITIONS_WITHOUT_CACHE = sum(PROMPT_TOKENS + step for step in range(NEW_TOKENS))  # 39
# With the cache: the prompt once, then each new token but the last one alone.
POSITIONS_WITH_CACHE = PROMPT_TOKENS + NEW_TOKENS - 1  # 9

TOP_P_PROBS = (0.5, 0.3, 0.15, 0.05)
TOP_P = 0.75
TOP_P_KEPT = 2


def check_positions(answer):
    """Own exercise: (positions run without the cache, with the cache) for a
    4-token prompt and 6 new tokens, greedy."""
    if no_answer_yet(answer):
        return Verdict(False)
    values = as_ints(answer)
    if values is None or len(values) != 2:
        return report(False, "", "give two whole numbers as a pair: (without_cache, with_cache)")
    without, with_cache = values
    ok_without = without == POSITIONS_WITHOUT_CACHE
    ok_with = with_cache == POSITIONS_WITH_CACHE
    if ok_without and ok_with:
        return report(True, "4 + 5 + 6 + 7 + 8 + 9 = 39 positions for the book's loop, 4 + 1 + 1 "
                      "+ 1 + 1 + 1 = 9 with the cache (the 6th new token is never fed back).", "")
    if without in (4 + 5 + 6 + 7 + 8 + 9 + 10, 60):
        return report(False, "", "the book's loop runs the model 6 times, on 4, 5, ..., 9 tokens; "
                      "the 6th new token is appended but never run through the model.")
    if not ok_without:
        return report(False, "", "without the cache, step i runs the prompt plus the i - 1 tokens "
                      "generated so far: add up 4, 5, ... for the 6 steps.")
    if with_cache == PROMPT_TOKENS + NEW_TOKENS:
        return report(False, "", "close: with the cache each new token is run once, to get the "
                      "next one, but the last new token has no next one to predict.")
    return report(False, "", "with the cache the prompt is run once (4 positions), then each new "
                  "token alone, to predict the one after it.")


GREEDY_WORDS = ("greedy", "argmax", "arg max", "generate_text_simple", "most likely",
                "most probable", "highest")


def check_greedy_limit(answer):
    """Own exercise: temperature -> 0 (or top_k=1) turns sampling into what?"""
    if no_answer_yet(answer):
        return Verdict(False)
    if not isinstance(answer, str) or not answer.strip():
        return report(False, "", "answer with a word or a short phrase, as a string")
    text = answer.lower()
    if any(word in text for word in GREEDY_WORDS):
        return report(True, "both keep only the most likely token, so every draw is the argmax: "
                      "greedy decoding, the book's generate_text_simple.", "")
    if "uniform" in text or "random" in text:
        return report(False, "", "that is temperature -> infinity. A small temperature divides "
                      "the logits by a tiny number: the largest one dominates the softmax.")
    return report(False, "", "look at what next_token_distribution(logits, temperature=0) or "
                  "top_k=1 gives: how many tokens keep a non-zero probability?")


def check_top_p_kept(answer):
    """Own exercise: how many tokens does top_p=0.75 keep of probabilities
    0.5, 0.3, 0.15, 0.05?"""
    if no_answer_yet(answer):
        return Verdict(False)
    kept = as_int(answer)
    if kept is None:
        return report(False, "", "give the number of tokens kept, a whole number")
    if kept == TOP_P_KEPT:
        return report(True, "0.5 alone is below 0.75, 0.5 + 0.3 = 0.8 reaches it: the two most "
                      "likely tokens stay, renormalized to 0.625 and 0.375.", "")
    if kept == 1:
        return report(False, "", "0.5 alone has not reached 0.75 yet: keep adding the next most "
                      "likely token.")
    if kept == 3:
        return report(False, "", "one too many: top-p stops at the first token that makes the "
                      "running total reach top_p.")
    return report(False, "", "sort the probabilities from the largest, add them up, and stop as "
                  "soon as the total reaches 0.75.")
