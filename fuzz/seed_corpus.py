#!/usr/bin/env python3
"""Writes the committed seed corpora (fuzz/corpus/*) from the API docs' examples.

Usage: fuzz/seed_corpus.py SEEDS_DIR   (the folder of the API's documentation pages)

Every `curl` example becomes an `api` script (with the seeds' placeholders
filled in: the customer account, the example number), every `-d` body a
`public_fields` input, and every number-looking string a `normalize` and
`classify` input; `classify_rules` starts from Kazoo's default rules. Re-running rewrites the same files (names are content hashes).
"""
import hashlib, json, os, re, sys

here = os.path.dirname(os.path.abspath(__file__))
seeds = sys.argv[1]
out = {k: set() for k in ("normalize", "classify", "classify_rules", "public_fields", "api")}
curl = re.compile(r"curl[^\n]*?(?:\\\n[^\n]*?)*(?:\n|$)")
for name in sorted(os.listdir(seeds)):
    text = open(os.path.join(seeds, name), encoding="utf-8").read()
    for m in curl.finditer(text):
        cmd = m.group(0).replace("\\\n", " ")
        method = re.search(r"-X\s+(\w+)", cmd)
        url = re.search(r"https?://\S+?:8000(/\S*)", cmd)
        if not url:
            continue
        body = re.search(r"-d\s+'([^']*)'", cmd)
        path = url.group(1).strip("'\"")
        for ph in ("{{ACCOUNT_ID}}", "{ACCOUNT_ID}"):
            path = path.replace(ph, "{C}")
        for ph in ("{{NUMBER}}", "{PHONE_NUMBER}", "{{PHONE_NUMBER}}"):
            path = path.replace(ph, "%2B14158867900")
        who = "customer" if "AUTH_TOKEN" in cmd else "none"
        script = f"{method.group(1) if method else 'GET'} {who} {path}\n"
        if body:
            script += body.group(1) + "\n"
            out["public_fields"].add(body.group(1))
        script = re.sub(r"\{+PHONE_NUMBER(\d)\}+", r"+1415555010\1", script)
        out["api"].add(script.replace("{CITY}", "San%20Francisco").replace("{{CITY}}", "San%20Francisco"))
    for num in re.findall(r"\"(\+?[0-9][0-9 ()\-.]{6,18})\"", text):
        out["normalize"].add(num)
        for mode in (0, 1):
            out["classify"].add(chr(mode) + num)
# A few journeys and faults the single examples do not reach.
out["api"].update([
    "PUT customer /v2/accounts/{C}/phone_numbers/%2B14158867900\n{\"data\":{\"my_own_field\":{}}}\n\n"
    "GET customer /v2/accounts/{C}/phone_numbers/%2B14158867900\n\n"
    "PATCH customer /v2/accounts/{C}/phone_numbers/%2B14158867900\n{\"data\":{\"cnam\":{\"display_name\":\"Me\"}}}\n\n"
    "DELETE customer /v2/accounts/{C}/phone_numbers/%2B14158867900\n",
    "GET master /v2/phone_numbers?prefix=415&quantity=2\n\n"
    "!carrier acquire error\n\n"
    "PUT reseller /v2/accounts/{R}/phone_numbers/collection/activate\n{\"data\":{\"numbers\":[\"+14155550100\",\"+14155550101\"]}}\n",
    "PUT customer /v2/accounts/{C}/phone_numbers/%2B14155550100/port Idempotency-Key:k1\n{\"data\":{\"porting\":{\"comments\":[\"x\"]}}}\n\n"
    "!e911 validate timeout\n\n"
    "POST customer /v2/accounts/{C}/phone_numbers/%2B14155550100\n"
    "{\"data\":{\"e911\":{\"street_address\":\"116 NATOMA ST\",\"locality\":\"SAN FRANCISCO\",\"region\":\"CA\",\"postal_code\":\"94105\"}}}\n",
    "GET customer /v2/accounts/{C}/phone_numbers/prefix?city=San%20Francisco\n\n"
    "POST customer /v2/accounts/{C}/phone_numbers/check\n{\"data\":{\"numbers\":[\"+14155550100\"]}}\n\n"
    "GET customer /v2/accounts/{C}/phone_numbers?page_size=1&filter_state=reserved\n",
])
out["public_fields"].update([
    '{"data":{"e911":{"caller_name":"Jane Doe","street_address":"116 NATOMA ST","extended_address":"APT 116",'
    '"locality":"SAN FRANCISCO","region":"CA","postal_code":"94105","status":"PROVISIONED","legacy_data":{"house_number":"116"}}}}',
    '{"data":{"porting":{"carrier":"x","comments":["please"],"port_id":"1"},"carrier_name":"simulated","create_with_state":"in_service"}}',
    '{"data":{"dash_e911":{"region":"C"},"_secret":1,"pvt_x":2,"id":"x","cnam":{"inbound_lookup":"yes"}}}',
    '{"data":{"n":0.1,"big":12345678901234567890,"neg":-1e-7,"nested":{"a":[null,true,{"b":"\\u00e9"}]}}}',
])
out["classify_rules"].update(["^\\+1\\d{10}$\n^(.*)$\n\x00+14155551234", "[0-9]+\n^9\x00911"])
# Kazoo's default rules, one a line, as `classify_rules` reads them.
default_rules = [
    r"^\+1((?:800|88\d|877|866|855|844|833|822)\d{7})$", r"^\+1(900\d{7})$",
    r"^(911|922|933|833|811|711|999)$",
    r"^\+?1((?:684|264|268|242|246|441|284|345|767|809|829|849|473|671|876|664|670"
    r"|787|939|869|758|784|721|868|649|340)\d{7})$",
    r"^(\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})$", r"^\+([2-9]\d{7,})$", r"^(.*)$",
]
out["classify_rules"].add("\n".join(default_rules) + "\n\x00+18005551212")
out["normalize"].update(['{"^(\\\\d{7})$": {"prefix": "+1415"}}', "011 44 20 7123 4567", "*97"])
for kind, items in out.items():
    folder = os.path.join(here, "corpus", kind)
    os.makedirs(folder, exist_ok=True)
    for item in sorted(items):
        data = item.encode()
        with open(os.path.join(folder, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
            f.write(data)
    print(kind, len(items))
