// The interactive shell: libedit line editing, history and completion over the
// same commands (and the same parser) as one-shot use.
#include <editline/readline.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>

#include "shell.h"

namespace admit::shell {
namespace {

constexpr int history_lines_max = 1000;

// libedit's generator protocol: called with state 0 first, then until nullptr.
char* complete_command_word(const char* text, int state) {
  static std::size_t next = 0;
  if (state == 0) next = 0;
  const std::vector<std::string>& words = Shell::command_words();
  const std::size_t length = std::strlen(text);
  while (next < words.size()) {
    const std::string& word = words[next++];
    if (word.compare(0, length, text) == 0) return ::strdup(word.c_str());
  }
  return nullptr;
}

char** complete(const char* text, int /*start*/, int /*end*/) {
  rl_attempted_completion_over = 1;  // no file-name completion
  return rl_completion_matches(text, complete_command_word);
}

}  // namespace

int run_repl(Shell& shell, const std::string& history_path) {
  rl_readline_name = "admit";
  rl_attempted_completion_function = complete;
  stifle_history(history_lines_max);
  if (!history_path.empty()) read_history(history_path.c_str());
  // Piped input (a script) gets only the commands' output, so JSON stays parseable.
  if (::isatty(STDIN_FILENO)) {
    std::cout << "admit shell: `help` lists the commands, `quit` or Ctrl-D leaves.\n";
  }
  int last_exit = exit_ok;
  std::vector<std::string> words;
  while (true) {
    std::unique_ptr<char, decltype(&std::free)> line(readline("admit> "), &std::free);
    if (line == nullptr) break;  // EOF
    const std::string_view text(line.get());
    if (text.size() > line_size_max) {
      std::cerr << "admit: line longer than " << line_size_max << " bytes, ignored\n";
      continue;
    }
    if (!Shell::split_line(text, &words)) {
      std::cerr << "admit: unclosed quote\n";
      last_exit = exit_usage;
      continue;
    }
    if (words.empty()) continue;
    add_history(line.get());
    if (words[0] == "quit" || words[0] == "exit") break;
    if (words[0] == "shell") continue;  // already in it
    last_exit = shell.run(words);
    std::cout.flush();
  }
  if (!history_path.empty()) {
    write_history(history_path.c_str());
    history_truncate_file(history_path.c_str(), history_lines_max);
  }
  return last_exit;
}

}  // namespace admit::shell
