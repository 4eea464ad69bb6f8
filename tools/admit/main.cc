// `admit`: one-shot commands, or the interactive shell when run without one.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "shell.h"

int main(int argc, char** argv) {
  const char* env_server = std::getenv("ADMIT_SERVER");
  const char* env_token = std::getenv("ADMIT_TOKEN");
  admit::shell::Shell shell(std::cout, std::cerr, env_server ? env_server : "",
                            env_token ? env_token : "");
  shell.set_terminal_output(::isatty(STDOUT_FILENO) == 1);
  const std::vector<std::string> words(argv + 1, argv + argc);
  const int exit_code = shell.run(words);
  if (!shell.repl_requested()) return exit_code;
  const char* home = std::getenv("HOME");
  const std::string history = home ? std::string(home) + "/.admit_history" : std::string();
  return admit::shell::run_repl(shell, history);
}
