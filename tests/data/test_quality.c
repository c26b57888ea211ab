/* tests/data/test_quality.c — character statistics and language guesses. */
#include "data/quality.h"
#include "data/textindex/analyzer.h"
#include "test.h"

static mast_quality_doc stats(const char *text)
{
    mast_quality_doc d = {0};
    mast_quality_text(text, strlen(text), &d);
    return d;
}

static void test_clean_prose_is_not_garbled(void)
{
    mast_quality_doc d = stats("The committee reviewed the results, and found (in 2024) that "
                               "the treatment \xe2\x80\x94 a new one \xe2\x80\x94 worked.");
    CHECK_EQ_INT(d.flags, 0);
    CHECK_EQ_INT(d.words, 16);
    CHECK(d.symbols < 0.01);
    CHECK_NEAR(d.replacement, 0, 0);
}

static void test_each_garbling_is_found_with_its_reason(void)
{
    /* 1 U+FFFD in 51 characters: 2.0% */
    mast_quality_doc d = stats("The results were reviewed \xef\xbf\xbd by the committee today.");
    CHECK(d.flags & MAST_QUALITY_GARBLED);
    CHECK_EQ_STR(d.garbled_why, "U+FFFD replacement characters: 2.0%");
    /* "café" read as Windows-1252, three times */
    d = stats("caf\xc3\x83\xc2\xa9 au lait, caf\xc3\x83\xc2\xa9 noir, caf\xc3\x83\xc2\xa9 cr\xc3\x83\xc2\xa8me");
    CHECK_EQ_STR(d.garbled_why, "mojibake (UTF-8 read as Windows-1252): 4");
    d = stats("{}|~<>=+@#$^*{}|~<>=+@#$^*{}|~<>=+@#$^*{}|~<>=+@#$^* and words");
    CHECK_EQ_STR(d.garbled_why, "symbols: 87% of the characters");
    /* 6 of 22: f0und l1ke th1s (a digit between letters), nqrst bcdfg hjklm (no vowel) */
    d = stats("tlie cornrnittee rcvicwcd tbe rcsults 0f tlie stndy aud f0und tliat tlie trcatmcnt "
              "wns cffcctivc iu rnost l1ke th1s nqrst bcdfg hjklm");
    CHECK_EQ_STR(d.garbled_why, "OCR-like words: 27%");
    /* digits at the ends of words are not OCR noise: utf8, x86, 3rd */
    d = stats("utf8 x86 3rd 2024 mp3 h264 ipv6 the one two three four five six seven eight nine "
              "ten eleven twelve thirteen fourteen");
    CHECK_EQ_INT(d.flags, 0);
}

static void test_languages_by_script_and_stop_words(void)
{
    CHECK_EQ_STR(mast_guess_language("The cat sat on the mat and it was happy with the result of "
                                     "this.", 62), "en");
    const char *fr = "Le chat est sur le tapis et il est content de la situation pour les enfants.";
    CHECK_EQ_STR(mast_guess_language(fr, strlen(fr)), "fr");
    const char *de = "Die Katze sitzt auf der Matte und sie ist mit dem Ergebnis sehr zufrieden.";
    CHECK_EQ_STR(mast_guess_language(de, strlen(de)), "de");
    const char *ko = "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xed\x85\x8c\xec\x8a\xa4\xed\x8a\xb8 "
                     "\xeb\xac\xb8\xec\x9e\xa5\xec\x9e\x85\xeb\x8b\x88\xeb\x8b\xa4 "
                     "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xed\x85\x8c\xec\x8a\xa4\xed\x8a\xb8 "
                     "\xeb\xac\xb8\xec\x9e\xa5\xec\x9e\x85\xeb\x8b\x88\xeb\x8b\xa4 "
                     "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4";
    CHECK_EQ_STR(mast_guess_language(ko, strlen(ko)), "ko");
    const char *el = "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac "
                     "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac "
                     "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac";
    CHECK_EQ_STR(mast_guess_language(el, strlen(el)), "el");
    CHECK(mast_guess_language("too short", 9) == NULL);
    const char *ids = "xq7 zzv brrk plmf qwty zxcv bnmm lkjh gfds poiu ytre";
    CHECK_EQ_STR(mast_guess_language(ids, strlen(ids)), "und");
}

int main(void)
{
    RUN(test_clean_prose_is_not_garbled);
    RUN(test_each_garbling_is_found_with_its_reason);
    RUN(test_languages_by_script_and_stop_words);
    return test_summary();
}
