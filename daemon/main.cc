#include "daemon/cli.h"

int main(int argc, char** argv) { return crmsync::daemon::run_cli(argc, argv); }
