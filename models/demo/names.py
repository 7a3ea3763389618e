"""Chinese names and wording for the demo data (deterministic given a seeded random)."""

from __future__ import annotations

import random

# Common surnames, the most frequent ones listed more than once to keep a realistic mix.
SURNAMES = (
    "王王王李李李张张张刘刘陈陈杨杨黄赵赵吴周周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾"
    "肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹"
    "薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_CHARS = (
    "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宁俊帅浩亮健凯旭东林峰建国志文博宇晨阳昊然子轩"
    "浩宇嘉豪天佑振兴海洋卫东国栋永胜建军立新向阳红旗鸿儒云龙泽远思远承志铁成"
)
FEMALE_CHARS = "婷娜丽敏静燕芳霞雪琳晶颖慧倩欣怡"


def person_name(rng: random.Random, *, female: bool = False) -> str:
    surname = rng.choice(SURNAMES)
    pool = FEMALE_CHARS if female else GIVEN_CHARS
    if rng.random() < 0.3:
        return surname + rng.choice(pool)
    return surname + rng.choice(GIVEN_CHARS) + rng.choice(pool)


def unique_names(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct names, about one in twelve female (medics, signallers, staff)."""
    seen: set[str] = set()
    names: list[str] = []
    while len(names) < count:
        name = person_name(rng, female=rng.random() < 0.08)
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


_DIGITS = "一二三四五六七八九"


def cn_number(n: int) -> str:
    """1 -> 一, 10 -> 十, 12 -> 十二 (up to 99)."""
    if n < 10:
        return _DIGITS[n - 1]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _DIGITS[tens - 1]) + "十" + (_DIGITS[ones - 1] if ones else "")


LECTURE_TOPICS = (
    "坚定理想信念 筑牢思想根基",
    "传承红色基因 赓续精神血脉",
    "强化纪律意识 严守规矩底线",
    "学习党史 明理增信 崇德力行",
    "练兵备战中的共产党员先锋模范作用",
    "从古田会议看党指挥枪的根本原则",
    "发扬优良作风 当好战斗堡垒",
)
THEME_DAY_TOPICS = (
    "重温入党誓词 牢记初心使命",
    "参观旅史馆 传承光荣传统",
    "党员志愿服务进营区",
    "学习英模事迹 争当强军先锋",
    "支部书记讲形势 党员谈体会",
    "练兵场上党旗红",
)
STUDY_TOPICS = (
    "党章党规专题学习",
    "学习强军思想 研讨备战打仗",
    "新修订条令条例集中学习",
    "保密法规与网络安全教育",
    "党的创新理论集中学习",
    "形势政策教育",
)
COMMITTEE_TOPICS = (
    "研究本月党员教育计划",
    "讨论入党积极分子培养考察情况",
    "分析支部思想形势",
    "研究发展党员工作",
)
EXEMPT_REASONS = ("因病住院治疗，长期病休", "借调上级机关执行任务")
