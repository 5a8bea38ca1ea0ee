"""Menus (menu) and printed pages (comm).

A menu has the restaurant's name as title, one to three columns of sections (凉菜, 热菜
...) whose items carry a price right-aligned or after a dotted leader; the answer lists
the items column by column, top to bottom.  A printed page (notice, letter, article) has
a title and indented paragraphs in one or two columns; the answer is one item per
printed line in reading order (all of the left column, then the right).
"""

from __future__ import annotations

import random

from PIL import Image, ImageDraw, ImageFont

from ._common import (
    INK,
    PROVINCES,
    Sample,
    bold,
    date,
    draw_text,
    font,
    person_name,
    text_width,
)

# --- menu --------------------------------------------------------------------------------
_SECTIONS: dict[str, tuple[str, ...]] = {
    "凉菜": ("拍黄瓜", "夫妻肺片", "口水鸡", "凉拌木耳", "皮蛋豆腐", "蒜泥白肉", "老醋花生",
             "凉拌海蜇", "麻酱凤尾", "卤水拼盘", "红油耳丝", "糖拌西红柿"),
    "热菜": ("宫保鸡丁", "鱼香肉丝", "回锅肉", "麻婆豆腐", "水煮鱼", "糖醋里脊", "红烧肉",
             "干煸四季豆", "地三鲜", "京酱肉丝", "辣子鸡", "清炒时蔬", "番茄炒蛋", "酸菜鱼",
             "毛血旺", "葱爆羊肉", "东坡肘子", "蚝油生菜", "剁椒鱼头", "小炒黄牛肉"),
    "主食": ("扬州炒饭", "米饭", "手工水饺", "葱油饼", "牛肉面", "炸酱面", "担担面", "小笼包",
             "蛋炒饭", "馒头", "韭菜盒子", "酸辣粉"),
    "汤羹": ("西红柿鸡蛋汤", "酸辣汤", "紫菜蛋花汤", "玉米排骨汤", "冬瓜丸子汤", "老鸭汤",
             "鲫鱼豆腐汤", "银耳莲子羹"),
    "饮品": ("酸梅汤", "鲜榨橙汁", "柠檬水", "可乐", "雪碧", "王老吉", "豆浆", "菊花茶",
             "绿豆沙", "青岛啤酒", "米酒"),
    "小吃": ("红糖糍粑", "炸春卷", "钵钵鸡", "烤串(10串)", "臭豆腐", "南瓜饼", "锅贴",
             "糖油果子"),
    "招牌菜": ("招牌烤鱼", "秘制牛蛙", "香辣小龙虾", "铁板牛柳", "干锅花菜", "石锅拌饭"),
    "特色推荐": ("剁椒鱼头", "外婆红烧肉", "农家小炒肉", "啤酒鸭", "土豆焖鸡"),
}  # fmt: skip
_PRICE_RANGE = {"凉菜": (8, 38), "热菜": (22, 88), "主食": (2, 28), "汤羹": (10, 48),
                "饮品": (3, 25), "小吃": (5, 30), "招牌菜": (48, 168),
                "特色推荐": (38, 128)}  # fmt: skip
_RESTAURANTS = ("川味小厨", "湘里人家", "老北京炸酱面馆", "粤港茶餐厅", "东北人家", "江南小馆",
                "巴蜀风味", "家常菜馆", "兰州牛肉面", "沙县小吃", "食全食美", "好运来饭店",
                "福满楼", "小城故事餐厅", "蜀香园", "渝味轩")  # fmt: skip
_FOOTERS = ("以上价格均为人民币，欢迎惠顾", "本店所有菜品均可打包", "如有忌口请提前告知服务员",
            "营业时间 10:00-22:00  订餐电话 0571-8876 5432", "谢谢惠顾 欢迎再来",
            "米饭免费续加")  # fmt: skip


def _price_text(price: float, style: str) -> str:
    whole = price == int(price)
    num = f"{int(price)}" if whole else f"{price:.1f}"
    if style == "plain":
        return num
    if style == "2dp":
        return f"{price:.2f}"
    if style == "yen-full":
        return "￥" + num
    if style == "yen":
        return "¥" + num
    return num + "元"


def _menu_background(size: tuple[int, int], rng: random.Random) -> Image.Image:
    tint = rng.choice(((255, 252, 242), (250, 244, 228), (255, 255, 255), (244, 240, 232),
                       (252, 246, 236)))  # fmt: skip
    return Image.new("RGB", size, tint)


def generate_menu(rng: random.Random, face: str) -> Sample:
    """A menu of 1-3 columns; answer ``{"menu_items": [{"name", "price"}]}`` column by
    column, top to bottom."""
    ncol = rng.choice((1, 2, 2, 3))
    w = {1: rng.randint(900, 1100), 2: rng.randint(1200, 1450), 3: rng.randint(1350, 1500)}[ncol]
    h = rng.randint(1100, 1500)
    size = rng.randint(28, 36) if ncol < 3 else rng.randint(26, 32)
    head_size = int(size * rng.uniform(1.15, 1.4))
    title_size = int(size * rng.uniform(1.8, 2.4))
    row_h = size * rng.uniform(1.55, 1.95)
    styles = ("plain", "2dp", "yen-full", "yen", "yuan")
    style = rng.choice(styles)
    mixed = rng.random() < 0.15
    leader = rng.random() < 0.4
    ink = rng.choice((INK, (60, 30, 20), (20, 20, 60)))
    accent = rng.choice(((170, 30, 30), (30, 30, 30), (120, 60, 20), (20, 80, 60)))
    img = _menu_background((w, h), rng)
    draw = ImageDraw.Draw(img)
    margin = w * rng.uniform(0.06, 0.09)
    if ncol == 1:  # a single column is narrower than the page, centred
        margin = w * (1 - rng.uniform(0.55, 0.8)) / 2
    # title
    tf = font(rng.choice((bold("sans"), "serif-bold", "kai", "hei", bold(face))), title_size)
    title = rng.choice(_RESTAURANTS)
    if rng.random() < 0.4:
        title += rng.choice(("菜单", " 菜单", "·菜谱"))
    tw = text_width(draw, title, tf)
    tx = (w - tw) / 2 if rng.random() < 0.8 else margin
    ty = h * rng.uniform(0.04, 0.07)
    draw_text(draw, (tx, ty), title, tf, accent)
    y0 = ty + title_size * 1.6
    if rng.random() < 0.5:
        draw.line((margin, y0 - title_size * 0.3, w - margin, y0 - title_size * 0.3),
                  fill=accent, width=2)  # fmt: skip
    footer = rng.choice(_FOOTERS) if rng.random() < 0.5 else ""
    ff = font(face, max(18, int(size * 0.7)))
    y_end = h - h * 0.05 - (ff.size * 2.2 if footer else 0)
    gap = w * rng.uniform(0.06, 0.09) if ncol > 1 else 0
    col_w = (w - 2 * margin - gap * (ncol - 1)) / ncol
    vf = font(face, size)
    hf = font(rng.choice((bold(face), bold("sans"), "serif-bold", "hei")), head_size)
    # sections, filling the columns in turn
    n_sec = min(len(_SECTIONS), rng.randint(ncol + 2, 3 * ncol + 2))
    sec_names = rng.sample(list(_SECTIONS), k=n_sec)
    items: list[dict[str, object]] = []
    col = 0
    y = y0
    picked = [
        (sec, rng.sample(_SECTIONS[sec], k=min(len(_SECTIONS[sec]), rng.randint(3, 8))))
        for sec in sec_names
    ]
    total = sum(head_size * 1.7 + row_h * (len(d) + 0.5) for _, d in picked)
    target = min(total / ncol, y_end - y0)  # balance the columns
    centred = rng.random() < 0.3
    y_max = y0
    for i, (sec, dishes) in enumerate(picked):
        need = head_size * 1.7 + row_h * 2
        left = len(picked) - i
        if i and (
            y + need > y_end
            or (col < ncol - 1 and (y - y0 >= target * 0.85 or left <= ncol - 1 - col))
        ):
            col += 1
            y = y0
            if col >= ncol:
                break
        x = margin + col * (col_w + gap)
        hx = x + (col_w - text_width(draw, sec, hf)) / 2 if centred else x
        draw_text(draw, (hx, y), sec, hf, accent)
        y += head_size * 1.7
        for dish in dishes:
            if y + row_h > y_end:
                break
            lo, hi = _PRICE_RANGE[sec]
            price = float(rng.randint(lo, hi))
            if rng.random() < 0.15 and style in ("2dp", "plain"):
                price += 0.5
            st = rng.choice(styles) if mixed else style
            ptxt = _price_text(price, st)
            nx = x + (size * 0.5 if hx == x else 0)
            name_right = draw_text(draw, (nx, y), dish, vf, ink)
            pw = text_width(draw, ptxt, vf)
            px = x + col_w - pw
            draw_text(draw, (px, y), ptxt, vf, ink)
            if leader:
                dot_f = font("sans", max(12, size // 2))
                dw = text_width(draw, "·", dot_f) + size * 0.12
                dx = name_right + size * 0.5
                while dx + dw < px - size * 0.4:
                    draw.text((dx, y + size * 0.35), "·", font=dot_f, fill=(120, 120, 120))
                    dx += dw
            items.append({"name": dish, "price": price})
            y += row_h
            y_max = max(y_max, y)
        y += row_h * rng.uniform(0.3, 0.7)
    if ncol > 1 and rng.random() < 0.5:
        for c in range(1, ncol):
            lx = margin + c * (col_w + gap) - gap / 2
            draw.line((lx, y0, lx, y_max), fill=(180, 170, 160), width=2)
    # the page ends a little below the last row (or the footer)
    foot_h = ff.size * 2.2 if footer else 0
    new_h = int(min(h, max(y_max + foot_h + w * rng.uniform(0.04, 0.12), w * 0.7)))
    img = img.crop((0, 0, w, new_h))
    draw = ImageDraw.Draw(img)
    if footer:
        fw = text_width(draw, footer, ff)
        fy = new_h - new_h * 0.04 - ff.size * 1.3
        draw_text(draw, ((w - fw) / 2, fy), footer, ff, (90, 90, 90))
    return Sample("menu", img, {"menu_items": items}, f"menu-{ncol}col", face)


# --- printed page ------------------------------------------------------------------------
_TITLES = {
    "notice": ("关于{x}的通知", "关于做好{x}工作的通知", "{x}公告", "关于调整{x}的通知"),
    "letter": ("致全体{who}的一封信", "给{who}的感谢信", "邀请函"),
    "article": ("{x}发展报告摘要", "浅谈{x}", "{x}的现状与展望", "{x}调查"),
}
_TOPICS = ("2025年春节放假安排", "办公区域安全检查", "停水停电", "年度体检", "数字化转型",
           "城市垃圾分类", "新能源汽车充电设施", "社区养老服务", "人工智能应用", "消防演练",
           "员工培训计划", "电动自行车充电管理", "智慧农业")  # fmt: skip
_WHO = ("业主", "员工", "家长", "会员", "居民", "同学")
_SENTENCES = (
    "根据{org}统一部署，现将有关事项通知如下。",
    "请各部门于{date}前将材料报送至{room}，联系电话{tel}。",
    "本次活动共有{n}人参加，覆盖{m}个社区，满意度达到{p}%。",
    "{year}年全年累计完成投资{money}亿元，同比增长{p}%。",
    "届时将暂停供水约{h}小时，请各位{who}提前做好储水准备。",
    "详细信息请登录官方网站www.{site}.cn或扫描下方二维码查询。",
    "会议地点设在{room}，时间为{date}上午9:30。",
    "如有疑问，请发送邮件至service@{site}.com，我们将在3个工作日内回复。",
    "截至{date}，平台注册用户已超过{n}万，日均访问量约{m}万次。",
    "为进一步提高工作效率，{org}决定自{date}起试行新的管理办法。",
    "各单位要高度重视，认真组织，确保各项工作落到实处。",
    "我们衷心感谢大家一直以来的理解与支持，祝大家工作顺利、身体健康！",
    "该项目采用了AI图像识别与IoT传感技术，准确率提升至{p}%以上。",
    "请大家相互转告，自觉遵守相关规定，共同营造良好的{env}环境。",
    "报名方式：携带本人身份证及近期1寸照片{k}张，到{room}现场办理。",
    "第{k}条 未经批准，任何单位和个人不得擅自改变{env}设施的用途。",
    "调查显示，约{p}%的受访者表示愿意参与此类活动，其中18至35岁人群占比最高。",
    "相关费用标准为每人每月{money}元，由财务部统一结算。",
    "近年来，随着经济社会的快速发展，{x}已成为社会各界普遍关注的话题。",
    "实践证明，只有坚持创新驱动，才能在激烈的市场竞争中赢得主动。",
)


def _fill(rng: random.Random, s: str, topic: str) -> str:
    province = rng.choice(list(PROVINCES))
    y, m, d = date(rng, 2019, 2026)
    return s.format(
        org=rng.choice(("公司", "物业服务中心", "街道办事处", "学校", f"{province}分公司")),
        date=f"{y}年{m}月{d}日",
        room=f"{rng.randint(1, 12)}号楼{rng.randint(1, 9)}{rng.randint(1, 20):02d}室",
        tel=f"0{rng.randint(10, 999)}-{rng.randint(1000000, 89999999)}",
        n=rng.randint(12, 5000),
        m=rng.randint(3, 300),
        p=rng.choice((f"{rng.randint(10, 99)}", f"{rng.randint(10, 99)}.{rng.randint(1, 9)}")),
        year=y,
        money=rng.choice((f"{rng.randint(1, 999)}", f"{rng.randint(1, 99)}.{rng.randint(1, 99)}")),
        h=rng.randint(2, 12),
        who=rng.choice(_WHO),
        site=rng.choice(("example", "sample-info", "cityservice", "news365")),
        k=rng.randint(1, 12),
        env=rng.choice(("社区", "办公", "学习", "居住", "公共")),
        x=topic,
    )


def _paragraphs(rng: random.Random, topic: str, n: int) -> list[str]:
    pool = rng.sample(_SENTENCES, len(_SENTENCES))  # no sentence twice on a page
    out = []
    for _ in range(n):
        k = rng.randint(1, 4)
        out.append("".join(_fill(rng, pool.pop(), topic) for _ in range(min(k, len(pool)))))
    return [p for p in out if p]


_NO_START = "，。、；：！？）)%”’》…"
_WORD = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.@:-_/%")


def _wrap(draw: ImageDraw.ImageDraw, text: str, fnt: ImageFont.FreeTypeFont, widths: list[float]
          ) -> list[str]:  # fmt: skip
    """Lines of a paragraph: the first no wider than ``widths[0]``, the others than
    ``widths[-1]``; numbers and latin words are not split and closing punctuation never
    starts a line."""
    tokens: list[str] = []
    for ch in text:
        if tokens and (ch in _NO_START or (ch in _WORD and tokens[-1][-1] in _WORD)):
            tokens[-1] += ch
        else:
            tokens.append(ch)
    lines: list[str] = []
    line = ""
    for tok in tokens:
        width = widths[min(len(lines), len(widths) - 1)]
        if line and text_width(draw, line + tok.rstrip(), fnt) > width:
            lines.append(line.rstrip())
            line = tok.lstrip()
        else:
            line += tok
    if line.strip():
        lines.append(line.rstrip())
    return lines


def generate_comm(rng: random.Random, face: str) -> Sample:
    """A printed page in one or two columns; answer ``{"items": [{"text": line}]}`` one
    item per printed line in reading order (the title first, the left column before the
    right one, the signature last)."""
    kind = rng.choice(("notice", "letter", "article", "article"))
    ncol = 2 if kind == "article" and rng.random() < 0.65 else 1
    w = rng.randint(1000, 1200) if ncol == 1 else rng.randint(1250, 1500)
    topic = rng.choice(_TOPICS)
    who = rng.choice(_WHO)
    title = rng.choice(_TITLES[kind]).format(x=topic, who=who)
    size = rng.randint(26, 34) if ncol == 1 else rng.randint(24, 30)
    line_h = size * rng.uniform(1.5, 1.9)
    vf = font(face, size)
    ink = rng.choice((INK, (10, 10, 10), (40, 40, 50)))
    tf = font(rng.choice((bold("sans"), "serif-bold", bold(face), "hei")), int(size * 1.5))
    margin = w * rng.uniform(0.08, 0.11)
    gap = w * rng.uniform(0.05, 0.07) if ncol == 2 else 0
    col_w = (w - 2 * margin - gap * (ncol - 1)) / ncol
    measure = ImageDraw.Draw(Image.new("RGB", (8, 8)))
    laid: list[tuple[str, bool]] = []
    for _attempt in range(50):
        paras = _paragraphs(rng, topic, rng.randint(2, 3 + 3 * ncol))
        laid = []
        if kind == "letter":
            laid.append((f"尊敬的{who}：", False))
        for p in paras:
            lines = _wrap(measure, p, vf, [col_w - size * 2, col_w])
            laid += [(t, i == 0) for i, t in enumerate(lines)]
        sign: list[str] = []
        if kind in ("notice", "letter"):
            y_, m_, d_ = date(rng, 2020, 2026)
            signer = rng.choice(("物业服务中心", "行政部", "办公室", "街道办事处"))
            signer = person_name(rng) if kind == "letter" and rng.random() < 0.5 else signer
            sign = [signer, f"{y_}年{m_}月{d_}日"]
        if 7 <= len(laid) + len(sign) <= 29 and len(laid) >= 5 * ncol + 2 * (ncol - 1):
            break
    else:  # pragma: no cover
        raise RuntimeError("page does not fit")
    per_col = -(-len(laid) // ncol)
    ty = w * rng.uniform(0.07, 0.1)
    top = ty + tf.size * rng.uniform(2.0, 2.6)
    body_end = top + per_col * line_h + (line_h * (0.5 + len(sign)) if sign else 0)
    h = int(max(w * rng.uniform(0.6, 0.8), body_end + w * rng.uniform(0.06, 0.25)))
    h = min(h, int(w * 1.42)) if body_end + w * 0.05 < w * 1.42 else int(body_end + w * 0.05)
    paper = rng.choice(((255, 255, 255), (250, 249, 245), (246, 244, 238)))
    img = Image.new("RGB", (w, h), paper)
    draw = ImageDraw.Draw(img)
    lines_out: list[str] = [title]
    tw = text_width(draw, title, tf)
    draw_text(draw, ((w - tw) / 2, ty), title, tf, (15, 15, 15))
    if rng.random() < 0.3:
        ry = ty + tf.size * 1.6
        draw.line((margin, ry, w - margin, ry), fill=(150, 40, 40), width=2)
    if ncol == 2 and rng.random() < 0.6:
        lx = margin + col_w + gap / 2
        draw.line((lx, top, lx, top + per_col * line_h - line_h * 0.3), fill=(170, 170, 170))
    for i, (text, indent) in enumerate(laid):
        c, r = divmod(i, per_col)
        x = margin + c * (col_w + gap) + (size * 2 if indent else 0)
        draw_text(draw, (x, top + r * line_h), text, vf, ink)
        lines_out.append(text)
    y = top + per_col * line_h + line_h * 0.5
    for s in sign:
        sw = text_width(draw, s, vf)
        draw_text(draw, (w - margin - sw - size, y), s, vf, ink)
        lines_out.append(s)
        y += line_h
    items = [{"text": t} for t in lines_out]
    return Sample("comm", img, {"items": items}, f"page-{ncol}col", face, {"kind": kind})


__all__ = ["generate_comm", "generate_menu"]
