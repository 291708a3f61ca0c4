# ruff: noqa: UP031  (MicroPython test script: %-formatting kept on purpose)
from mpytest import check, done
from vafa.card import is_valid_card, mask_card

for c in ("9900010000000019", "9900010000000027", "9900010000001009", "9900011234567898"):
    check(is_valid_card(c), "valid " + c)
for c in ("9900010000000018", "", "990001000000001", "99000100000000190", "99000100000000a9",
          " 9900010000000019", "990001000000001\u0669"):
    check(not is_valid_card(c), "invalid %r" % c)
check(not is_valid_card(None), "None")
check(not is_valid_card(9900010000000019), "int")
check(mask_card("9900010000000019") == "****0019", "mask")
done("test_card")
