# The simulator's arguments that tests/c/mikrobill_test.c needs beyond a listening address, for
# every script that runs it (tests/c/run.sh, tests/windows/run.sh, scripts/test-install.sh).
# kassa1251: a cashier whose password is "Пароль" saved in CP1251 (its bytes, base64).
# shellcheck disable=SC2034  # used by the scripts that source this file
c_test_sim_args=(--cashier kassa1251:z+Dw7uv8)
