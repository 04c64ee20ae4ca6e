"""Hand-computed cases for unfreeze_core.tasks.qa_metrics (MLQA rules).

Every expected F1 is worked out by hand in the comment next to it:
P = shared tokens / prediction tokens, R = shared tokens / reference tokens,
F1 = 2PR / (P + R), reported on a 0-100 scale by ``score``.
"""

import pytest

from unfreeze_core.tasks.qa_metrics import (
    answer_tokens,
    exact_match_score,
    f1_score,
    normalize_answer,
    score,
)


def one(pred, refs, lang):
    return score({"q": pred}, {"q": refs}, lang)


# --------------------------------------------------------------------- English


def test_en_exact_match_after_case_punct_article_normalisation():
    assert one("The Eiffel Tower.", ["eiffel tower"], "en") == {"f1": 100.0, "exact_match": 100.0}


def test_en_partial_f1():
    # pred tokens [tall, eiffel, tower, in, paris] (5), gold [eiffel, tower] (2)
    # shared 2 -> P = 2/5, R = 1 -> F1 = 2*(2/5)/(7/5) = 4/7
    r = one("the tall Eiffel Tower in Paris", ["Eiffel Tower"], "en")
    assert r["f1"] == pytest.approx(100 * 4 / 7)
    assert r["exact_match"] == 0.0


def test_en_articles_are_whole_words_only():
    assert normalize_answer("An Apple, a theory and THE theatre", "en") == "apple theory and theatre"


def test_en_repeated_tokens_count_with_multiplicity():
    # pred [cat, cat] (articles gone), gold [cat]: shared min(2,1)=1 -> P=1/2, R=1 -> F1=2/3
    assert f1_score("the cat, the cat", "cat", "en") == pytest.approx(2 / 3)


def test_en_punctuation_removed_everywhere():
    # "U.S." -> "us"; curly quotes and em dash are Unicode P* categories
    assert normalize_answer("“U.S.” — (army)!", "en") == "us army"


def test_max_over_references_is_taken_per_metric():
    # vs "New York": [new, york] shared 2 of pred 3 -> P=2/3, R=1 -> F1=0.8
    # vs "York City Hall": shared 2 -> P=2/3, R=2/3 -> F1=2/3; best = 0.8
    r = one("New York City", ["New York", "York City Hall"], "en")
    assert r["f1"] == pytest.approx(80.0)
    assert r["exact_match"] == 0.0
    r = one("Paris, France", ["London", "Paris", "paris france"], "en")
    assert r == {"f1": 100.0, "exact_match": 100.0}


def test_empty_prediction_scores_zero():
    assert one("", ["Paris"], "en") == {"f1": 0.0, "exact_match": 0.0}
    assert one("   ", ["Paris"], "en") == {"f1": 0.0, "exact_match": 0.0}


def test_prediction_normalising_to_nothing_matches_empty_reference_em_only():
    # MLQA / SQuAD v1.1 behaviour: EM compares "" == "", F1 has no shared tokens.
    assert exact_match_score("The", "a", "en") == 1.0
    assert f1_score("The", "a", "en") == 0.0


def test_missing_id_counts_zero_and_mean_is_over_references():
    refs = {"q1": ["Paris"], "q2": ["Berlin"], "q3": ["Rome"], "q4": ["Madrid"]}
    preds = {"q1": "Paris", "q2": "Berlin", "q3": None, "extra": "ignored"}
    # q1, q2 exact; q3 None and q4 missing score 0 -> 2/4
    assert score(preds, refs, "en") == {"f1": 50.0, "exact_match": 50.0}


def test_corpus_average_of_partial_scores():
    refs = {"a": ["Eiffel Tower"], "b": ["New York", "York City Hall"]}
    preds = {"a": "the tall Eiffel Tower in Paris", "b": "New York City"}
    r = score(preds, refs, "en")
    assert r["f1"] == pytest.approx(100 * (4 / 7 + 0.8) / 2)
    assert r["exact_match"] == 0.0


def test_invalid_inputs():
    with pytest.raises(ValueError):
        score({}, {}, "en")
    with pytest.raises(ValueError):
        score({"q": "x"}, {"q": []}, "en")
    with pytest.raises(TypeError):
        score({"q": "x"}, {"q": "x"}, "en")


# ----------------------------------------------------------- Spanish / German


def test_es_articles_and_inverted_punctuation():
    assert one("¡La Paz!", ["paz"], "es")["exact_match"] == 100.0
    # pred [estados, unidos, de, américa] (4), gold [estados, unidos] (2)
    # P = 1/2, R = 1 -> F1 = 2/3
    r = one("los Estados Unidos de América", ["Estados Unidos"], "es")
    assert r["f1"] == pytest.approx(100 * 2 / 3)


def test_es_does_not_remove_english_articles():
    assert normalize_answer("The Beatles", "es") == "the beatles"


def test_de_articles_and_partial():
    assert one("Der Rhein", ["Rhein"], "de")["exact_match"] == 100.0
    assert normalize_answer("einer der Besten", "de") == "besten"
    # [deutsche, bank] vs [deutschen, bank]: shared 1 -> P = R = 1/2 -> F1 = 1/2
    assert f1_score("die Deutsche Bank", "deutschen Bank", "de") == pytest.approx(0.5)


# ------------------------------------------------------------------ Vietnamese


def test_vi_mlqa_article_list():
    assert normalize_answer("Những con mèo", "vi") == "con mèo"
    # pred [thủ, đô, việt, nam] (4) vs [việt, nam] (2): P = 1/2, R = 1 -> F1 = 2/3
    r = one("Thủ đô của Việt Nam", ["Việt Nam"], "vi")
    assert r["f1"] == pytest.approx(100 * 2 / 3)
    assert r["exact_match"] == 0.0


def test_nfd_input_is_composed_before_matching():
    import unicodedata

    decomposed = unicodedata.normalize("NFD", "của Việt Nam")
    assert normalize_answer(decomposed, "vi") == "việt nam"


# ---------------------------------------------------------------------- Arabic


def test_ar_definite_article_and_punctuation():
    assert one("القاهرة،", ["قاهرة"], "ar") == {"f1": 100.0, "exact_match": 100.0}
    assert normalize_answer("القاهرة، مصر؟", "ar") == "قاهرة مصر"
    # pred [مدينة, قاهرة, كبرى] (3) vs gold [قاهرة] (1): P = 1/3, R = 1 -> F1 = 1/2
    assert one("مدينة القاهرة الكبرى", ["القاهرة"], "ar")["f1"] == pytest.approx(50.0)


def test_ar_reproduces_mlqa_substring_rule():
    # MLQA replaces *every* "ال", word-internal ones too ("سؤال" -> "سؤ").
    assert answer_tokens("سؤال", "ar") == ["سؤ"]
    assert answer_tokens("المال", "ar") == ["م"]


# ------------------------------------------------------------------ Devanagari


def test_hi_whitespace_tokens_no_articles_danda_removed():
    assert one("भारत की राजधानी।", ["भारत की राजधानी"], "hi")["exact_match"] == 100.0
    # [नई, दिल्ली, भारत] vs [नई, दिल्ली]: P = 2/3, R = 1 -> F1 = 0.8
    assert one("नई दिल्ली भारत", ["नई दिल्ली"], "hi")["f1"] == pytest.approx(80.0)


# --------------------------------------------------------------------- Chinese


def test_zh_mixed_segmentation():
    assert answer_tokens("2008年北京奥运会", "zh") == ["2008", "年", "北", "京", "奥", "运", "会"]
    assert answer_tokens("北京 ABC 大学", "zh") == ["北", "京", "abc", "大", "学"]
    # no articles for zh
    assert normalize_answer("The 北京", "zh") == "the 北 京"


def test_zh_exact_match_ignores_spaces_and_cjk_punctuation():
    assert one("北京 大学。", ["「北京大学」"], "zh")["exact_match"] == 100.0


def test_zh_partial_f1():
    # [北, 京, 大, 学] vs [北, 京]: P = 1/2, R = 1 -> F1 = 2/3
    assert one("北京大学", ["北京"], "zh")["f1"] == pytest.approx(100 * 2 / 3)
    # [2008, 年] vs [2008, 年, 北, 京, 奥, 运, 会]: P = 1, R = 2/7 -> F1 = (4/7)/(9/7) = 4/9
    assert one("2008年", ["2008年北京奥运会"], "zh")["f1"] == pytest.approx(100 * 4 / 9)


def test_zh_language_tag_with_region():
    assert normalize_answer("北京", "zh-CN") == normalize_answer("北京", "ZH_hans") == "北 京"


# ----------------------------------------------------------------------- Greek


def test_el_articles_project_choice():
    assert one("Η Αθήνα", ["Αθήνα"], "el")["exact_match"] == 100.0
    # final sigma lower-cases correctly and "τους" is removed
    assert normalize_answer("ΤΟΥΣ ΑΓΩΝΕΣ", "el") == "αγωνες"
    # "ή" (or) is not the article "η"
    assert normalize_answer("ή", "el") == "ή"
    # pred [αθήνα, πρωτεύουσα, ελλάδας] (3) vs [αθήνα] (1): P = 1/3, R = 1 -> F1 = 1/2
    assert one("Η Αθήνα, πρωτεύουσα της Ελλάδας", ["την Αθήνα"], "el")["f1"] == pytest.approx(50.0)


# ------------------------------------------------------------------------ Thai


def test_th_character_segmentation_with_attached_marks():
    # combining vowel/tone marks stay on their base letter: "ที่" is one token
    assert answer_tokens("ที่", "th") == ["ที่"]
    assert answer_tokens("กรุงเทพ", "th") == ["ก", "รุ", "ง", "เ", "ท", "พ"]
    # spaces inside Thai text do not matter for EM
    assert one("กรุง เทพ", ["กรุงเทพ"], "th")["exact_match"] == 100.0


def test_th_partial_f1():
    # "กรุงเทพฯ": [ก, รุ, ง, เ, ท, พ, ฯ] (7; ฯ is a letter, Lo) vs 6 tokens of "กรุงเทพ"
    # shared 6 -> P = 6/7, R = 1 -> F1 = (12/7)/(13/7) = 12/13
    r = one("กรุงเทพฯ", ["กรุงเทพ"], "th")
    assert r["f1"] == pytest.approx(100 * 12 / 13)
    assert r["exact_match"] == 0.0


# ----------------------------------------------- Turkish, Russian, unknown


def test_tr_turkish_casing():
    assert one("İstanbul", ["istanbul"], "tr")["exact_match"] == 100.0
    assert one("IRMAK", ["ırmak"], "tr")["exact_match"] == 100.0


def test_ru_no_articles():
    # [в, москве] vs [москве]: P = 1/2, R = 1 -> F1 = 2/3
    assert one("в Москве", ["Москве"], "ru")["f1"] == pytest.approx(100 * 2 / 3)


def test_unknown_language_falls_back_to_whitespace_without_articles():
    assert normalize_answer("The Cat!", "xx") == "the cat"
    # [the, cat] vs [cat]: P = 1/2, R = 1 -> F1 = 2/3
    r = one("the cat", ["cat"], "xx")
    assert r["f1"] == pytest.approx(100 * 2 / 3)
    assert r["exact_match"] == 0.0
