# gen.awk — deterministic SPEC-4 receipts for the JSON reader comparison:
#   awk -v n=200000 -f bench/json_compare/gen.awk > /tmp/receipts.jsonl
# 1..8 lines per receipt, most with a customer, prices with 2 decimals, some weight
# goods with 3-decimal quantities.
BEGIN {
    srand(42);
    if (!n) n = 100000;
    split("dairy/milk dairy/cheese bakery/bread grocery/coffee produce/fruit tobacco", cat, " ");
    split("Prost Jacobs Nescafe Hleb Sad Vkus", brand, " ");
    split("pos pos pos online", chan, " ");
    split("card card cash credit bonus mixed", pay, " ");
    split("pensioner student vip family", seg, " ");
    for (i = 1; i <= n; i++) {
        d = 1 + int(rand() * 28);
        printf "{\"id\":\"r%d\",\"store\":%d,\"region\":\"msk\",\"channel\":\"%s\",", i, 100 + int(rand() * 50), chan[1 + int(rand() * 4)];
        printf "\"time\":\"2026-06-%02dT%02d:%02d:00\",\"payment\":\"%s\",\"points_paid\":%d,", d, 8 + int(rand() * 14), int(rand() * 60), pay[1 + int(rand() * 6)], (rand() < 0.1 ? int(rand() * 50) : 0);
        printf "\"codes\":[%s],\"attrs\":{\"weather\":\"rain\",\"temp\":%d.5},", (rand() < 0.2 ? "\"SUMMER\"" : ""), int(rand() * 30);
        if (rand() < 0.8)
            printf "\"customer\":{\"id\":\"c%d\",\"card\":\"zabota\",\"segments\":[\"%s\"],\"tier\":\"gold\",\"birthday\":\"19%02d-%02d-%02d\"},", int(rand() * 5000), seg[1 + int(rand() * 4)], 40 + int(rand() * 60), 1 + int(rand() * 12), 1 + int(rand() * 28);
        printf "\"lines\":[";
        nl = 1 + int(rand() * 8);
        for (k = 1; k <= nl; k++) {
            c = 1 + int(rand() * 6);
            if (rand() < 0.2) q = sprintf("%d.%03d", int(rand() * 3), 1 + int(rand() * 999)); else q = 1 + int(rand() * 4);
            printf "%s{\"sku\":\"%d\",\"category\":\"%s\",\"brand\":\"%s\",\"qty\":%s,\"price\":%d.%02d,\"excluded\":%s}", (k > 1 ? "," : ""), 1000 + int(rand() * 500), cat[c], brand[1 + int(rand() * 6)], q, 10 + int(rand() * 990), int(rand() * 100), (c == 6 ? "true" : "false");
        }
        printf "]}\n";
    }
}
