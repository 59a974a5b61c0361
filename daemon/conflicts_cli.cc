#include "daemon/conflicts_cli.h"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "daemon/cli.h"
#include "daemon/commands.h"
#include "daemon/conflict_resolve_cli.h"
#include "daemon/json_text.h"
#include "daemon/operator_cli.h"
#include "state/sql_time.h"
#include "state/state_database.h"

namespace crmsync::daemon {

namespace {

// One row of the state table `conflicts` (migration 0006). base and side_values are JSON text.
struct ConflictRow {
  std::string id, object, record_id, field, policy, base, side_values, event_id, status, created_at;
  std::optional<std::string> resolved_at, resolution;
};

std::string select_columns(const std::string& schema) {
  return fmt::format("SELECT id, object, record_id, field, policy, coalesce(base, 'null'), side_values, event_id, "
                     "status, {1}, {2}, resolution FROM {0}.conflicts",
                     schema, state::rfc3339_sql("created_at"), state::rfc3339_sql("resolved_at"));
}

ConflictRow conflict_from(const state::QueryRow& row) {
  return {row[0].value_or(""), row[1].value_or(""), row[2].value_or(""), row[3].value_or(""),
          row[4].value_or(""), row[5].value_or("null"), row[6].value_or("{}"), row[7].value_or(""),
          row[8].value_or(""), row[9].value_or(""), row[10], row[11]};
}

// Stored JSON as JSON; text that is not one valid JSON value (a damaged row) as a JSON string, so
// that the output always parses.
std::string as_json(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(text.c_str(), text.size());
  return doc.HasParseError() ? json_quote(text) : text;
}

std::string conflict_json(const ConflictRow& c) {
  return fmt::format(
      "{{\"id\":{},\"status\":{},\"object\":{},\"record_id\":{},\"field\":{},\"policy\":{},\"base\":{},"
      "\"values\":{},\"event_id\":{},\"created_at\":{},\"resolved_at\":{},\"resolution\":{}}}",
      c.id, json_quote(c.status), json_quote(c.object), json_quote(c.record_id), json_quote(c.field),
      json_quote(c.policy), as_json(c.base), as_json(c.side_values), json_quote(c.event_id), json_quote(c.created_at),
      c.resolved_at ? json_quote(*c.resolved_at) : "null", c.resolution ? json_quote(*c.resolution) : "null");
}

void register_list(CLI::App& group, CommonOptions& options, std::vector<ConflictCommand>& commands) {
  struct Options {
    std::string status{"open"};
    std::string object;
    std::size_t limit = 1000;
  };
  auto chosen = std::make_shared<Options>();
  CLI::App* list = group.add_subcommand("list", "conflicts waiting for an operator (or resolved ones), oldest first");
  list->add_option("--status", chosen->status, "open (default), resolved or all")
      ->check(CLI::IsMember({"open", "resolved", "all"}));
  list->add_option("--object", chosen->object, "only this object: account or deal")
      ->check(CLI::IsMember({"account", "deal"}));
  list->add_option("--limit", chosen->limit, "at most N conflicts (default 1000)")->check(CLI::Range(1, 1000000));
  add_output_options(*list, options);
  commands.push_back({list, [chosen, &options](OperatorSession& session) {
                        state::StateDatabase& db = session.database();
                        auto rows = db.execute(select_columns(db.schema()) +
                                                   " WHERE ($1 = 'all' OR status = $1) AND ($2 = '' OR object = $2) "
                                                   "ORDER BY id LIMIT " + std::to_string(chosen->limit),
                                               {chosen->status, chosen->object});
                        if (!rows) return session.fail(rows.error());
                        if (options.json) {
                          std::string out;
                          for (const auto& row : rows.value()) {
                            out += (out.empty() ? "" : ",") + conflict_json(conflict_from(row));
                          }
                          std::cout << "{\"conflicts\":[" << out << "]}\n";
                          return kExitOk;
                        }
                        if (rows.value().empty()) {
                          std::cout << fmt::format("no {} conflicts\n", chosen->status == "all" ? "" : chosen->status);
                          return kExitOk;
                        }
                        std::cout << fmt::format("{:>6} {:<9} {:<8} {:<20} {:<16} {:<12} {}\n", "ID", "STATUS",
                                                 "OBJECT", "RECORD", "FIELD", "POLICY", "CREATED");
                        for (const auto& row : rows.value()) {
                          ConflictRow c = conflict_from(row);
                          std::cout << fmt::format("{:>6} {:<9} {:<8} {:<20} {:<16} {:<12} {}\n", c.id, c.status,
                                                   c.object, c.record_id, c.field, c.policy, c.created_at);
                        }
                        return kExitOk;
                      }});
}

void register_show(CLI::App& group, CommonOptions& options, std::vector<ConflictCommand>& commands) {
  auto id = std::make_shared<long long>(0);
  CLI::App* show = group.add_subcommand("show", "one conflict: the base, each side's value, its status");
  show->add_option("id", *id, "the conflict's id (from `crmsync conflicts list`)")->required()->check(
      CLI::PositiveNumber);
  add_output_options(*show, options);
  commands.push_back({show, [id, &options](OperatorSession& session) {
                        state::StateDatabase& db = session.database();
                        auto rows = db.execute(select_columns(db.schema()) + " WHERE id = $1::bigint",
                                               {std::to_string(*id)});
                        if (!rows) return session.fail(rows.error());
                        if (rows.value().empty()) {
                          return session.fail(fmt::format("no conflict {}; see `crmsync conflicts list --status all`",
                                                          *id),
                                              kExitProblem);
                        }
                        ConflictRow c = conflict_from(rows.value()[0]);
                        if (options.json) {
                          std::cout << conflict_json(c) << '\n';
                          return kExitOk;
                        }
                        std::cout << fmt::format(
                            "conflict {} ({})\nrecord:   {}:{}\nfield:    {}\npolicy:   {}\nbase:     {}\n"
                            "values:   {}\nevent:    {}\ncreated:  {}\n",
                            c.id, c.status, c.object, c.record_id, c.field, c.policy, c.base, c.side_values,
                            c.event_id, c.created_at);
                        if (c.resolved_at) {
                          std::cout << fmt::format("resolved: {} {}\n", *c.resolved_at, c.resolution.value_or(""));
                        }
                        return kExitOk;
                      }});
}

}  // namespace

void register_conflict_commands(CLI::App& group, CommonOptions& options, std::vector<ConflictCommand>& commands) {
  register_list(group, options, commands);
  register_show(group, options, commands);
  register_conflict_resolve(group, options, commands);
}

ConflictsCli::ConflictsCli(CLI::App& app, CommonOptions& options) : options_(options) {
  group_ = app.add_subcommand("conflicts", "field conflicts under the manual policy, waiting for an operator");
  group_->require_subcommand(1);
  register_conflict_commands(*group_, options, commands_);
}

ConflictsCli::~ConflictsCli() = default;

bool ConflictsCli::chosen() const { return group_->parsed(); }

int ConflictsCli::run() {
  for (const auto& command : commands_) {
    if (!command.app->parsed()) continue;
    int exit_code = kExitUsage;
    auto session = OperatorSession::open("conflicts", options_, exit_code);
    if (!session) return exit_code;
    if (auto missing = session->require_tables({"conflicts"})) return *missing;
    return command.run(*session);
  }
  return kExitUsage;
}

}  // namespace crmsync::daemon
