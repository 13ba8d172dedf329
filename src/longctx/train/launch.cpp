#include "longctx/train/launch.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <thread>
#include <vector>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/base/text.h"
#include "longctx/train/process_group.h"

extern char** environ;

namespace longctx {

namespace {

// Signals the parent received and has not yet passed on (a counter: the handler only adds).
volatile std::sig_atomic_t g_signals = 0;
extern "C" void count_signal(int) {
  g_signals = g_signals + 1;
}

// This process's arguments, as the kernel keeps them: each one ends with a NUL.
std::vector<std::string> own_arguments() {
  std::string text = read_file("/proc/self/cmdline");
  if (!text.empty() && text.back() == '\0') text.pop_back();
  return split(text, '\0');
}

int exit_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

std::vector<std::string> rank_environment(const std::vector<std::string>& base, int rank, int ranks,
                                          int port, unsigned cores) {
  std::vector<std::string> out;
  bool threads_given = false;
  for (const std::string& entry : base) {
    bool ours = false;
    for (std::string_view name :
         {"RANK=", "LOCAL_RANK=", "WORLD_SIZE=", "LOCAL_WORLD_SIZE=", "MASTER_ADDR=",
          "MASTER_PORT=", "TORCHELASTIC_USE_AGENT_STORE=", "TORCHELASTIC_RESTART_COUNT="})
      ours = ours || entry.starts_with(name);
    threads_given = threads_given || entry.starts_with("OMP_NUM_THREADS=");
    if (!ours) out.push_back(entry);
  }
  out.push_back(fmt::format("RANK={}", rank));
  out.push_back(fmt::format("LOCAL_RANK={}", rank));
  out.push_back(fmt::format("WORLD_SIZE={}", ranks));
  out.push_back(fmt::format("LOCAL_WORLD_SIZE={}", ranks));
  out.push_back("MASTER_ADDR=127.0.0.1");
  out.push_back(fmt::format("MASTER_PORT={}", port));
  // The parent holds the rendezvous store, as torchrun's agent does: the ranks join it.
  out.push_back("TORCHELASTIC_USE_AGENT_STORE=True");
  out.push_back("TORCHELASTIC_RESTART_COUNT=0");
  if (!threads_given)
    out.push_back(
        fmt::format("OMP_NUM_THREADS={}", std::max(1u, cores / static_cast<unsigned>(ranks))));
  return out;
}

bool launched_as_rank() {
  // World size 1 is no launch: a Slurm batch step (SLURM_PROCID=0, SLURM_NTASKS=1) may start
  // its own ranks.
  return rank_info_from_environment().world_size > 1;
}

int free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error("cannot open a socket: " + errno_text(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  int errnum = errno;
  ::close(fd);
  if (!ok) throw Error("cannot find a free TCP port: " + errno_text(errnum));
  return ntohs(address.sin_port);
}

int launch_local_ranks(int ranks, std::chrono::seconds grace) {
  if (ranks < 1) throw Error(fmt::format("{} ranks: at least one is needed", ranks));
  std::vector<std::string> args = own_arguments();
  if (args.empty()) throw Error("cannot read this process's arguments from /proc/self/cmdline");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The ranks' rendezvous store, held here for as long as they run (torchrun's way).
  StoreHost store;
  const int port = store.port();

  // Everything the children need is built before the first fork.
  std::vector<std::string> base;
  for (char** e = environ; *e != nullptr; ++e) base.emplace_back(*e);
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::vector<std::string>> environments;
  for (int r = 0; r < ranks; ++r)
    environments.push_back(rank_environment(base, r, ranks, port, cores));

  g_signals = 0;
  struct sigaction action {};
  action.sa_handler = count_signal;
  sigemptyset(&action.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  sigaction(SIGINT, &action, &old_int);
  sigaction(SIGTERM, &action, &old_term);

  std::vector<pid_t> children;
  for (int r = 0; r < ranks; ++r) {
    std::vector<char*> envp;
    for (std::string& e : environments[static_cast<size_t>(r)]) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);  // the terminal's Ctrl-C goes to the parent, which passes it on once
      struct sigaction reset {};
      reset.sa_handler = SIG_DFL;
      sigemptyset(&reset.sa_mask);
      sigaction(SIGINT, &reset, nullptr);
      sigaction(SIGTERM, &reset, nullptr);
      ::execve("/proc/self/exe", argv.data(), envp.data());
      std::fprintf(stderr, "longctx: cannot start rank %d: %s\n", r, std::strerror(errno));
      std::_Exit(127);
    }
    if (pid < 0) {
      int errnum = errno;
      for (pid_t c : children) ::kill(c, SIGKILL);
      for (pid_t c : children) ::waitpid(c, nullptr, 0);
      throw Error(fmt::format("cannot start rank {}: {}", r, errno_text(errnum)));
    }
    children.push_back(pid);
  }

  // Wait for every rank, passing signals on; once one fails, give the rest `grace` to exit.
  int result = 0;
  int passed_on = 0;
  size_t alive = children.size();
  bool failed = false;  // a rank failed: the rest are killed at kill_at
  std::chrono::steady_clock::time_point kill_at{};
  while (alive > 0) {
    while (passed_on < g_signals) {
      ++passed_on;
      for (pid_t c : children)
        if (c > 0) ::kill(c, SIGTERM);
    }
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (pid_t& c : children) {
        if (c != pid) continue;
        c = -1;
        --alive;
        int code = exit_status(status);
        if (code != 0 && result == 0) {
          result = code;
          failed = true;
          kill_at = std::chrono::steady_clock::now() + grace;
        }
      }
      continue;
    }
    if (failed && std::chrono::steady_clock::now() >= kill_at) {
      for (pid_t c : children)
        if (c > 0) ::kill(c, SIGKILL);
      failed = false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  return result;
}

}  // namespace longctx
