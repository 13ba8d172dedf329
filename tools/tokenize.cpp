// longctx tokenize: text <-> token ids with a model's tokenizer, for checking and scripting.
//
//   longctx tokenize --tokenizer llama3/tokenizer.json --input notes.txt          # ids
//   longctx tokenize --tokenizer DIR --input corpus.jsonl.zst --json              # per record
//   longctx tokenize --tokenizer DIR --input ids.txt --decode                     # text
//
// Phases: load the tokenizer -> read the input (records in order, or the whole file) ->
// encode, count or decode -> print.
#include <fmt/format.h>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "corpus_flags.h"
#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/data/byte_source.h"
#include "longctx/tokenizer/tokenizer.h"

namespace longctx {

namespace {

struct TokenizeFlags {
  std::string tokenizer;
  std::string input;
  bool parse_special = false;
  bool json = false;
  bool decode = false;
  bool count = false;
  std::string text_key = "text";
};

std::string read_all(const std::string& path) {
  std::unique_ptr<ByteSource> source = open_byte_source(path);
  std::string data;
  std::vector<char> block(1 << 20);
  while (size_t n = source->read(block.data(), block.size())) data.append(block.data(), n);
  return data;
}

// One output line for encoded text: the count, a JSON array, or space-separated ids.
std::string ids_line(const std::vector<int32_t>& ids, const TokenizeFlags& flags) {
  if (flags.count) return std::to_string(ids.size());
  if (flags.json) return nlohmann::json(ids).dump();
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
  return line;
}

// Ids from a line: a JSON array or whitespace-separated integers.
std::vector<int32_t> parse_ids(const std::string& line, uint64_t line_number) {
  if (line.find('[') != std::string::npos) {
    try {
      return nlohmann::json::parse(line).get<std::vector<int32_t>>();
    } catch (const std::exception&) {
      throw Error(fmt::format("--decode: line {} is not a JSON array of ids", line_number));
    }
  }
  return parse_token_ids(line, fmt::format("--decode: line {}", line_number));
}

int run_tokenize(const TokenizeFlags& flags) {
  // Load the tokenizer and the input.
  std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(flags.tokenizer);
  SpecialTokens special = flags.parse_special ? SpecialTokens::kParse : SpecialTokens::kAsText;
  std::optional<FileFormat> format = format_of(flags.input);

  if (flags.decode) {
    // One line of ids in, one line of text out (JSON strings with --json).
    std::istringstream in(read_all(flags.input));
    uint64_t line_number = 0;
    for (std::string line; std::getline(in, line);) {
      ++line_number;
      std::string text = tokenizer->decode(parse_ids(line, line_number));
      std::cout << (flags.json ? nlohmann::json(text).dump() : text) << "\n";
    }
    return 0;
  }
  if (format == FileFormat::kJsonLines) {
    // One line per record, in order: an empty or whitespace-only text is a text ([] for ""),
    // so line N of the output is the Nth record's. Bad records (invalid JSON, no text field)
    // are reported with their line on stderr and print nothing.
    CorpusFile file{flags.input, FileFormat::kJsonLines, 0, ""};
    RecordSchema schema;
    schema.text_key = flags.text_key;
    schema.default_domain = "-";
    CorpusReader reader({file}, schema, ReaderOptions{.threads = 1, .keep_empty_documents = true});
    InputIssues issues = reader.read_file_in_order(0, [&](const Document& doc, int) {
      std::cout << ids_line(tokenizer->encode(doc.text, special), flags) << "\n";
    });
    print_issues(stderr, issues, reader.files());
    return 0;
  }
  std::cout << ids_line(tokenizer->encode(read_all(flags.input), special), flags) << "\n";
  return 0;
}

}  // namespace

CommandRun add_tokenize_command(CLI::App& app) {
  auto flags = std::make_shared<TokenizeFlags>();
  CLI::App* command = app.add_subcommand(
      "tokenize",
      "Encode text to token ids (or --decode ids to text) with a model's tokenizer. A .jsonl "
      "input gives one line per record's text, in order; any other file is one text.");
  command
      ->add_option("--tokenizer", flags->tokenizer,
                   "tokenizer.json, SentencePiece tokenizer.model, tiktoken rank file, or a "
                   "model directory")
      ->required();
  command->add_option("--input", flags->input, "Input file (.jsonl[.zst|.gz], text, or ids)")
      ->required();
  command->add_flag("--parse-special", flags->parse_special,
                    "Turn special-token text such as </s> into its id, as HF tokenizers does "
                    "(default: special-token text is ordinary text)");
  command->add_flag("--json", flags->json,
                    "Print JSON arrays of ids (or JSON strings with --decode)");
  command->add_flag("--decode", flags->decode,
                    "Input lines are ids (space-separated or JSON arrays); print their text");
  command->add_flag("--count", flags->count, "Print token counts only");
  command->add_option("--text-key", flags->text_key, "Dotted path of the text in a record")
      ->capture_default_str();
  return [flags] { return run_tokenize(*flags); };
}

}  // namespace longctx
