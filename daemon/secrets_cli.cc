#include "daemon/secrets_cli.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <iterator>

#include "daemon/cli.h"
#include "daemon/commands.h"
#include "daemon/credential_check.h"
#include "daemon/journal_key.h"
#include "daemon/json_text.h"
#include "daemon/log_redactor.h"
#include "daemon/logging.h"
#include "daemon/settings_from_config.h"
#include "state/credential_file.h"
#include "state/migrator.h"
#include "state/secret_store.h"

namespace crmsync::daemon {

namespace {

mapping::SecretString read_value(const std::string& file, bool from_stdin) {
  if (from_stdin) {
    std::string value((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    if (!value.empty() && value.back() == '\n') value.pop_back();
    if (!value.empty() && value.back() == '\r') value.pop_back();
    return mapping::SecretString(std::move(value));
  }
  return state::read_credential_file(file);
}

// The journal key for recording secret changes. Journaling is required whenever a key is
// configured: a key file that cannot be used, or a key in the store that does not decode, stops the
// command. With no journal key at all (no journal.key_file and no `journal.key_secret` in the
// store yet, e.g. while the journal key itself is being put for the first time) changes are
// recorded in the store's own audit table only, and the command says so.
mapping::Result<std::optional<mapping::SecretString>> journal_key_for_secrets(const Config& config,
                                                                             state::StateDatabase& database,
                                                                             state::SecretStore& store) {
  JournalSection journal = config.journal.value_or(JournalSection{});
  if (!journal.key_file) {
    auto versions = store.current_versions();
    if (!versions) return versions.error();
    if (!versions.value().contains(journal.key_secret)) return std::optional<mapping::SecretString>();
  }
  auto key = load_journal_key(config, database);
  if (!key) return key.error();
  return std::optional<mapping::SecretString>(std::move(key).value());
}

}  // namespace

std::string default_operator_name() {
  if (const passwd* entry = ::getpwuid(::getuid()); entry != nullptr && entry->pw_name != nullptr) {
    return entry->pw_name;
  }
  return "uid:" + std::to_string(::getuid());
}

struct SecretsCli::State {
  CommonOptions* options = nullptr;
  CLI::App* group = nullptr;
  CLI::App* put = nullptr;
  CLI::App* list = nullptr;
  CLI::App* promote = nullptr;
  CLI::App* discard = nullptr;
  CLI::App* rotate = nullptr;
  CLI::App* destroy = nullptr;
  CLI::App* rotate_master = nullptr;
  CLI::App* generate = nullptr;
  std::string name;
  std::string from_file;
  bool from_stdin = false;
  bool pending = false;
  std::string reason{"discarded by an operator"};
  int version = 0;
  std::string new_key_file;
  std::string out_file;
  std::string operator_name = default_operator_name();
  bool dry_run = false;
  bool no_test = false;
  int test_timeout_seconds = 30;

  int fail(std::string_view message, int code) const {
    std::cerr << "crmsync secrets: " << message << '\n';
    return code;
  }

  int run_generate() const {
    int fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      return fail(fmt::format("cannot create {}: {} (it must not exist yet)", out_file, std::strerror(errno)), kExitProblem);
    }
    state::MasterKey key = state::MasterKey::generate();
    std::string text = key.to_base64().reveal() + "\n";
    bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    mapping::SecretString wipe(std::move(text));
    ::close(fd);
    if (!written) return fail(fmt::format("writing {} failed", out_file), kExitProblem);
    std::cout << fmt::format("wrote master key {} to {} (mode 0600); point secrets.master_key_file at it\n",
                             key.id(), out_file);
    return kExitOk;
  }

  // `rotate`: the new value is pending as `version`. When the configuration uses the secret to
  // obtain a CRM token, test it: accepted → promote (current becomes previous for the grace
  // window); refused → discard the pending version (current untouched), exit 1 with the CRM's
  // reason; not testable now (CRM unreachable) → keep it pending, exit 1. Without a test (or with
  // --no-test) it stays pending for an operator to promote.
  template <typename Report>
  int run_rotate(state::SecretStore& store, const Config& config, int staged_version, const mapping::SecretString& value,
                 const Report& report) {
    auto use = credential_use(config, name);
    if (!use || no_test) {
      return report(mapping::ok_status(),
                    fmt::format("secret {} v{} staged as pending; {}, so check it and run `crmsync secrets promote {}` "
                                "(or `discard`)",
                                name, staged_version,
                                no_test ? "--no-test was given" : "no automatic test is available for it", name));
    }
    auto redactor = std::make_shared<LogRedactor>();
    redactor->add_secret(value.reveal());
    Logging logging(LogFormat::text, LogLevel::warn, redactor);
    auto checked = check_credential(config, name, value, store, operator_name, logging.logger("secrets"),
                                    std::chrono::seconds(test_timeout_seconds));
    std::string why = redactor->redact(checked.detail);
    if (checked.consumed) {
      // The CRM accepted the refresh token and rotated it: the new one is already current; the
      // pending value is spent.
      if (auto discarded = store.discard_pending(name, operator_name,
                                                 fmt::format("used up by its test: the CRM rotated it, v{} is current",
                                                             checked.rotated_version));
          !discarded) {
        return report(discarded, "");
      }
      return report(mapping::ok_status(),
                    fmt::format("secret {} v{} tested against the CRM ({}): accepted and rotated by the CRM on use; "
                                "its replacement v{} is now current",
                                name, staged_version, *use, checked.rotated_version));
    }
    switch (checked.outcome) {
      case CredentialCheckOutcome::accepted: {
        if (auto promoted = store.promote(name, operator_name); !promoted) return report(promoted, "");
        return report(mapping::ok_status(),
                      fmt::format("secret {} v{} tested against the CRM ({}): accepted; promoted to current, the "
                                  "previous version stays valid for secrets.previous_grace",
                                  name, staged_version, *use));
      }
      case CredentialCheckOutcome::refused: {
        std::string refusal = "refused by the CRM: " + why;
        if (auto discarded = store.discard_pending(name, operator_name, refusal); !discarded) {
          return report(discarded, "");
        }
        return fail(fmt::format("secret {} v{} failed its test against the CRM ({}): {}; the pending version was "
                                "discarded and the current version is unchanged",
                                name, staged_version, *use, why),
                    kExitProblem);
      }
      case CredentialCheckOutcome::unreachable:
        break;
    }
    return fail(fmt::format("secret {} v{} could not be tested against the CRM ({}): {}; it stays pending and the "
                            "current version is unchanged: retry with `crmsync secrets discard {}` and `rotate` "
                            "again, or check it and `crmsync secrets promote {}`",
                            name, staged_version, *use, why, name, name),
                kExitProblem);
  }

  int run() {
    if (*generate) return run_generate();
    auto config = load_config_for_command(*options);
    if (!config) return kExitUsage;
    if (!config->secrets) {
      return fail("the configuration has no [secrets] section (secrets.master_key_file)", kExitUsage);
    }
    LogRedactor redactor;
    std::optional<state::MasterKey> master;
    state::StateDatabaseSettings settings;
    try {
      master = state::MasterKey::from_file(config->secrets->master_key_file);
      settings = state_settings_from(*config, redactor);
    } catch (const std::exception& error) {
      return fail(error.what(), kExitUsage);
    }
    auto database = state::StateDatabase::connect(settings);
    if (!database) return fail(redactor.redact(database.error().message), kExitProblem);
    if (auto migrated = state::migrate(*database.value(), state::embedded_migrations(), state::DryRun::no); !migrated) {
      return fail(migrated.error().message, kExitProblem);
    }
    auto grace = std::chrono::duration_cast<std::chrono::seconds>(config->secrets->previous_grace);
    state::SecretStore store(*database.value(), *master, grace);
    if (!*list) {
      auto journal_key = journal_key_for_secrets(*config, *database.value(), store);
      if (!journal_key) {
        return fail(fmt::format("{}; secret changes are journaled whenever a journal key is configured, so "
                                "nothing was changed",
                                redactor.redact(journal_key.error().message)),
                    journal_key.error().error_class == mapping::ErrorClass::invalid ? kExitUsage : kExitProblem);
      }
      if (journal_key.value()) {
        redactor.add_secret(journal_key.value()->reveal());
        store.journal_with(std::move(*journal_key.value()));
      } else {
        std::cerr << "crmsync secrets: note: no journal key yet; this change is recorded in the secret store's "
                     "audit table only (set journal.key_file or put the journal key to journal it)\n";
      }
    }

    auto report = [&](const mapping::Status& status, const std::string& done) {
      if (!status) return fail(status.error().message, status.error().error_class == mapping::ErrorClass::invalid ? kExitUsage : kExitProblem);
      if (options->json) {
        std::cout << fmt::format("{{\"ok\":true,\"message\":{}}}\n", json_quote(done));
      } else {
        std::cout << done << '\n';
      }
      return kExitOk;
    };

    if (*put || *rotate) {
      if (from_file.empty() == !from_stdin) return fail("give exactly one of --from-file F or --from-stdin", kExitUsage);
      mapping::SecretString value;
      try {
        value = read_value(from_file, from_stdin);
      } catch (const std::exception& error) {
        return fail(error.what(), kExitUsage);
      }
      bool staged = pending || *rotate;
      auto stored = store.put(name, value, staged ? state::SecretStage::pending : state::SecretStage::current, operator_name);
      if (!stored) return report(stored.error(), "");
      if (*put) {
        return report(mapping::ok_status(), fmt::format("secret {} v{} stored as {}", name, stored.value(),
                                                        staged ? "pending" : "current"));
      }
      return run_rotate(store, *config, stored.value(), value, report);
    }
    if (*promote) return report(store.promote(name, operator_name), fmt::format("secret {}: pending promoted to current", name));
    if (*discard) return report(store.discard_pending(name, operator_name, reason), fmt::format("secret {}: pending discarded", name));
    if (*destroy) {
      return report(store.destroy(name, version, operator_name), fmt::format("secret {} v{} destroyed", name, version));
    }
    if (*rotate_master) {
      std::optional<state::MasterKey> next;
      try {
        next = state::MasterKey::from_file(new_key_file);
      } catch (const std::exception& error) {
        return fail(error.what(), kExitUsage);
      }
      auto rewrapped = store.rotate_master(*next, operator_name);
      if (!rewrapped) return report(rewrapped.error(), "");
      return report(mapping::ok_status(),
                    fmt::format("{} secret version(s) re-wrapped from master key {} to {}; set secrets.master_key_file "
                                "to {} and restart or reload the daemons, then remove the old key",
                                rewrapped.value(), master->id(), next->id(), new_key_file));
    }
    if (*list) {
      auto versions = store.list();
      if (!versions) return fail(versions.error().message, kExitProblem);
      if (options->json) {
        std::string out = "[";
        for (const auto& v : versions.value()) {
          if (out.size() > 1) out += ',';
          out += fmt::format("{{\"name\":{},\"version\":{},\"stage\":\"{}\",\"created_at\":\"{}\",\"created_by\":{},"
                             "\"age_seconds\":{:.0f},\"usable_until\":{}}}",
                             json_quote(v.name), v.version, state::to_string(v.stage), v.created_at, json_quote(v.created_by),
                             v.age_seconds, v.usable_until ? json_quote(*v.usable_until) : "null");
        }
        std::cout << out << "]\n";
      } else {
        std::cout << fmt::format("{:<40} {:>7} {:<10} {:<21} {}\n", "NAME", "VERSION", "STAGE", "CREATED", "BY");
        for (const auto& v : versions.value()) {
          std::cout << fmt::format("{:<40} {:>7} {:<10} {:<21} {}\n", v.name, v.version, state::to_string(v.stage),
                                   v.created_at, v.created_by);
        }
      }
      return kExitOk;
    }
    return kExitUsage;
  }
};

SecretsCli::SecretsCli(CLI::App& app, CommonOptions& options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = &options;
  s.group = app.add_subcommand("secrets", "manage the encrypted secret store");
  s.group->require_subcommand(1);
  auto add_common = [&](CLI::App* command, bool changes) {
    command->add_option("-c,--config", options.config_path, "configuration file");
    command->add_flag("--json", options.json, "machine-readable output");
    if (changes) command->add_option("--operator", s.operator_name, "who does this (journaled; default: the Unix user)");
  };
  s.put = s.group->add_subcommand("put", "store a new version of a secret (current, or --pending)");
  s.put->add_option("name", s.name, "secret name, e.g. salesforce.client_secret")->required();
  s.put->add_option("--from-file", s.from_file, "read the value from this file");
  s.put->add_flag("--from-stdin", s.from_stdin, "read the value from standard input");
  s.put->add_flag("--pending", s.pending, "stage it as pending instead of making it current");
  add_common(s.put, true);

  s.list = s.group->add_subcommand("list", "names, versions, stages and ages (never values)");
  add_common(s.list, false);

  s.promote = s.group->add_subcommand("promote", "make the pending version current (current becomes previous)");
  s.promote->add_option("name", s.name, "secret name")->required();
  add_common(s.promote, true);

  s.discard = s.group->add_subcommand("discard", "drop the pending version; current stays");
  s.discard->add_option("name", s.name, "secret name")->required();
  s.discard->add_option("--reason", s.reason, "why (journaled)");
  add_common(s.discard, true);

  s.rotate = s.group->add_subcommand(
      "rotate", "stage a new value as pending, test it against the CRM where the configuration uses it, promote it");
  s.rotate->add_option("name", s.name, "secret name")->required();
  s.rotate->add_option("--from-file", s.from_file, "read the new value from this file");
  s.rotate->add_flag("--from-stdin", s.from_stdin, "read the new value from standard input");
  s.rotate->add_flag("--no-test", s.no_test, "only stage it as pending (no token request to the CRM)");
  s.rotate->add_option("--test-timeout", s.test_timeout_seconds, "seconds the test may take (default 30)")
      ->check(CLI::Range(1, 600));
  add_common(s.rotate, true);

  s.destroy = s.group->add_subcommand("destroy", "erase a (non-current) version's value");
  s.destroy->add_option("name", s.name, "secret name")->required();
  s.destroy->add_option("--version", s.version, "version to destroy")->required();
  add_common(s.destroy, true);

  s.rotate_master = s.group->add_subcommand("rotate-master", "re-wrap every data key under a new master key");
  s.rotate_master->add_option("--new-key", s.new_key_file, "file with the new master key")->required();
  add_common(s.rotate_master, true);

  s.generate = s.group->add_subcommand("generate-master-key", "write a new random master key file (mode 0600)");
  s.generate->add_option("--out", s.out_file, "file to create")->required();
}

SecretsCli::~SecretsCli() = default;

bool SecretsCli::chosen() const { return state_->group->parsed(); }

int SecretsCli::run() { return state_->run(); }

}  // namespace crmsync::daemon
