"""The book's chapter 4, one module per concept, numbered by the notebook
that teaches it: 01 the dummy skeleton, 02 LayerNorm, 03 GELU, 04 FeedForward,
05 shortcut connections, 06 attention (the previous chapter's, recapped) and the
TransformerBlock, 07 GPTModel and its size, 08 greedy generation.

Everything here is importable from `gpt_course` directly
(``from gpt_course import LayerNorm``).
"""
