// The two book-QA scores of `longctx eval bookqa` (RECIPE.md section 4, InfiniteBench En.QA):
//
//   paper_recall:  the paper's score (its eval_book.py): the lowercased, whitespace-split words
//                  of the FIRST answer, as a set, and the share of them found in the set of the
//                  lowercased prediction's words. Punctuation stays ("Paris." != "paris").
//   answer_f1:     InfiniteBench's official score (its compute_scores.py): both texts
//                  normalised (normalize_answer), split on whitespace, token F1 with repeated
//                  words counted as often as they appear in both (a multiset intersection); the
//                  best F1 over all answers.
//
//   paper_recall("The answer is Paris.", "Paris") == 0.0   // "paris." is not "paris"
//   answer_f1("The answer is Paris.", {"Paris"}) == 0.5     // [answer is paris] vs [paris]
//
// Text follows Python's str methods, which the references call (python_text.h).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace longctx {

// InfiniteBench's normalisation, in its order: lowercase; delete ASCII punctuation (Python's
// string.punctuation, !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~, deleted, not replaced: "don't" ->
// "dont"); replace the whole words a, an and the by a space (a word: a run of Unicode letters,
// digits and '_', as the regex \b(a|an|the)\b sees it); collapse white space to single spaces
// and trim.
//   normalize_answer("The  Cat's hat, an apple!") == "cats hat apple"
std::string normalize_answer(std::string_view text);

// Token F1 of one prediction against one answer after normalize_answer; 0 when they share no
// token (or either is empty).
double token_f1(std::string_view prediction, std::string_view answer);
// The best token_f1 over the answers; 0 when there are none.
double answer_f1(std::string_view prediction, std::span<const std::string> answers);

// The paper's recall against one answer; 0 when the answer has no words.
double paper_recall(std::string_view prediction, std::string_view answer);

}  // namespace longctx
