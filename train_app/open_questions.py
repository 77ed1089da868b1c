"""Questions no tool answers, about any topic, and a direct answer to each.

A model trained on a few dozen fixed chit-chat questions memorises them, and calls some tool for
any question it has not seen ("什么是递归？" → get_current_time). A question built from a template
and a topic it has not seen teaches the rule instead: a request names what a tool does, anything
else is answered in words. The templates avoid the words that ask for a tool (search, look up,
file, weather, time, 搜, 查, 文件, 天气, 几点), and the caller's topics never come from the fixed
chit-chat questions, so the held-out ones stay unseen. The answers know nothing about the topic
(neither does a small model): they say so, ask for more, or offer a search.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from train_app import made_up_values
from train_app.text_blocks import pairs

# Share of topics that are one made-up word (the rest are one or two common words).
MADE_UP_TOPIC_SHARE = 0.25


# Paragraphs of a question template and its answer; {topic} is one topic, {other} a second.
TEMPLATES: dict[str, tuple[tuple[str, str], ...]] = {
    "zh": pairs("""
        什么是{topic}？
        “{topic}”在不同场合可能有不同的意思。能说说你是在哪里看到的吗？这样我能解释得更准确。

        {topic}是什么意思？
        “{topic}”的意思要看上下文。你能多给我一点背景吗？

        给我讲讲{topic}
        关于“{topic}”，我手头没有可靠的细节。你想了解哪方面？需要的话我也可以帮你上网搜索。

        你了解{topic}吗？
        我对“{topic}”了解不多，不想说错。你可以告诉我你想知道什么，或者让我帮你搜索。

        你觉得{topic}怎么样？
        我没有个人喜好，不过很乐意和你聊聊“{topic}”。你怎么看？

        我很喜欢{topic}
        真不错！“{topic}”最吸引你的是什么？

        为什么{topic}很重要？
        “{topic}”是否重要，要看具体情境。你是在什么场合遇到它的？

        写一句关于{topic}的诗
        {topic}入梦来，清风伴月开。

        关于{topic}，你有什么建议？
        关于“{topic}”，建议先弄清楚自己的目标，再一步一步来。你想从哪里开始？

        怎么学好{topic}？
        学好“{topic}”的关键是每天坚持一点，多练习，也多向有经验的人请教。

        我们聊聊{topic}吧
        好呀，聊聊“{topic}”。你最想说的是什么？

        用一句话解释{topic}
        我没有把握用一句话说准“{topic}”。你能告诉我它出现在什么场合吗？

        {topic}和{other}有什么区别？
        “{topic}”和“{other}”的区别要看具体场合。你是在哪里遇到这两个词的？

        帮我给{topic}起个名字
        可以叫它“小{topic}”，简单好记。

        我今天一直在想{topic}
        听起来“{topic}”对你很重要。愿意的话，和我说说吧。

        你喜欢{topic}吗？
        我没有真正的喜好，不过“{topic}”听起来挺有意思的。你喜欢它吗？
    """),
    "en": pairs("""
        What is {topic}?
        "{topic}" can mean different things. Where did you come across it? Then I can explain it
        properly.

        What does "{topic}" mean?
        It depends on the context. Can you tell me where you saw "{topic}"?

        Tell me something about {topic}.
        I don't have reliable details about "{topic}". What would you like to know? I can
        also search the web for it.

        Do you know anything about {topic}?
        I don't know much about "{topic}" and I'd rather not guess. Tell me what you need, or ask
        me to search for it.

        What do you think of {topic}?
        I don't have personal opinions, but I'm happy to talk about "{topic}". What do you think?

        I really like {topic}.
        That's nice! What do you like most about "{topic}"?

        Why does {topic} matter?
        Whether "{topic}" matters depends on the situation. Where did it come up for you?

        Write a short poem about {topic}.
        Quiet thoughts of {topic} drift by, like soft clouds across the sky.

        Any advice about {topic}?
        For "{topic}", start by deciding what you want from it, then take it one step at a time.

        How do I get better at {topic}?
        Practise "{topic}" a little every day and ask people with more experience for feedback.

        Can we talk about {topic}?
        Sure, let's talk about "{topic}". What's on your mind?

        Explain {topic} in one sentence.
        I can't put "{topic}" in one sentence without knowing the context. Where did you see it?

        What's the difference between {topic} and {other}?
        That depends on where "{topic}" and "{other}" come up. Can you give me the context?

        Suggest a name for my {topic}.
        How about "Little {topic}"? It's short and easy to remember.

        I keep thinking about {topic} today.
        It sounds like "{topic}" matters to you. Want to tell me more?

        Do you like {topic}?
        I don't have real likes, but "{topic}" sounds interesting. Do you like it?
    """),
}


def topic(rng: random.Random, words: Sequence[str], language: str) -> str:
    """A made-up word, or one or two of ``words`` ("猫的音乐", "ocean pressure")."""
    if rng.random() < MADE_UP_TOPIC_SHARE:
        return made_up_values.han(rng, 2, 4) if language == "zh" else made_up_values.word(rng)
    chosen = [rng.choice(words) for _ in range(rng.randint(1, 2))]
    if language == "zh":
        return ("的" if rng.random() < 0.5 else "").join(chosen)
    return " ".join(chosen)


def question(rng: random.Random, words: Sequence[str], language: str) -> tuple[str, str]:
    """A question no tool answers and its direct answer, about topics drawn from ``words``."""
    asked, answered = rng.choice(TEMPLATES[language])
    values = {"topic": topic(rng, words, language), "other": topic(rng, words, language)}
    return asked.format(**values), answered.format(**values)
