"""Beyond the book: the same GPTModel made fast and real. 09 a KV cache and
sampling, 10 GPT-2's published weights, 11 a glimpse of training, 12 the same
model in bfloat16 and int8.

Nothing here changes the book's classes; everything is importable from
`gpt_course` directly (``from gpt_course import generate``).
"""
