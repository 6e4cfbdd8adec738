/* tests/unit/gateway/test_log_metrics.c — the JSON access-log line (gateway/log.c) and the
 * Prometheus rendering of summed per-worker counters (gateway/metrics.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/log.h"
#include "gateway/metrics.h"

START_TEST(json_escape)
{
    char out[64];
    size_t pos = 0;
    ck_assert(gw_json_escape(out, sizeof out, &pos, "a\"b\\c\n\x01\xc3", 8));
    out[pos] = '\0';
    ck_assert_str_eq(out, "a\\\"b\\\\c\\u000a\\u0001\\u00c3");
    pos = 0;
    ck_assert(!gw_json_escape(out, 4, &pos, "abcdef", 6));
    ck_assert_uint_eq(pos, 0);
}
END_TEST

START_TEST(access_line)
{
    static struct gw_access_buf b;
    struct gw_access_rec r = {
        .time_iso = "2024-01-01T00:00:00Z", .request_id = "rid", .client = "127.0.0.1",
        .method = "GET", .path = "/a\"b?secret", .path_len = 4, .route = "/a", .upstream = "up",
        .status = 200, .bytes_in = 10, .bytes_out = 20, .total_ms = 1.5, .upstream_ms = -1,
    };
    ck_assert(!gw_access_append(&b, &r));
    b.data[b.len] = '\0';
    ck_assert_msg(!strcmp(b.data,
        "{\"time\":\"2024-01-01T00:00:00Z\",\"request_id\":\"rid\",\"client\":\"127.0.0.1\","
        "\"method\":\"GET\",\"path\":\"/a\\\"b\",\"route\":\"/a\",\"upstream\":\"up\",\"status\":200,"
        "\"bytes_in\":10,\"bytes_out\":20,\"duration_ms\":1.500,\"upstream_ms\":null}\n"), "%s", b.data);
    ck_assert(!strstr(b.data, "secret"));
    /* the buffer asks for a flush once past the threshold */
    bool full = false;
    for (int i = 0; i < 1000 && !full; i++)
        full = gw_access_append(&b, &r);
    ck_assert(full && b.len >= GW_ACCESS_FLUSH_BYTES && b.len <= GW_ACCESS_BUF_BYTES);
}
END_TEST

START_TEST(metrics_sum_and_render)
{
    static struct gw_metrics a, b;
    uint16_t r = gw_metrics_route_id("/operator/");
    ck_assert_uint_eq(gw_metrics_route_id("/operator/"), r);   /* interned */
    uint16_t u = gw_metrics_upstream_id("operator");
    gw_metrics_count_request(&a, r, 200);
    gw_metrics_count_request(&b, r, 204);
    gw_metrics_count_request(&b, r, 502);
    gw_metrics_observe_upstream(&a, u, 700);        /* 0.7 ms: bucket le=0.001 */
    gw_metrics_observe_upstream(&b, u, 3000000);    /* 3 s: bucket le=10 */
    a.bytes_in = 5;
    b.bytes_in = 7;
    a.bearer_signature_checks = 4;
    b.bearer_signature_checks = 1;
    gw_metric_add(&a.bearer_throttled[GW_METRIC_THROTTLE_SIG_CAP], 2);
    gw_metric_add(&b.bearer_throttled[GW_METRIC_THROTTLE_SIG_CAP], 3);
    struct gw_metrics *w[2] = { &a, &b };
    size_t len;
    char *t = gw_metrics_render(w, 2, 3, &len);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(strlen(t), len);
    ck_assert(strstr(t, "onegate_requests_total{route=\"/operator/\",code_class=\"2xx\"} 2\n"));
    ck_assert(strstr(t, "onegate_requests_total{route=\"/operator/\",code_class=\"5xx\"} 1\n"));
    ck_assert(strstr(t, "onegate_upstream_response_seconds_bucket{upstream=\"operator\",le=\"0.0005\"} 0\n"));
    ck_assert(strstr(t, "onegate_upstream_response_seconds_bucket{upstream=\"operator\",le=\"0.001\"} 1\n"));
    ck_assert(strstr(t, "onegate_upstream_response_seconds_bucket{upstream=\"operator\",le=\"2.5\"} 1\n"));
    ck_assert(strstr(t, "onegate_upstream_response_seconds_bucket{upstream=\"operator\",le=\"+Inf\"} 2\n"));
    ck_assert(strstr(t, "onegate_upstream_response_seconds_count{upstream=\"operator\"} 2\n"));
    ck_assert(strstr(t, "onegate_upstream_response_seconds_sum{upstream=\"operator\"} 3.000700\n"));
    ck_assert(strstr(t, "onegate_connections_open 3\n"));
    ck_assert(strstr(t, "onegate_bytes_received_total 12\n"));
    ck_assert(strstr(t, "onegate_bearer_signature_checks_total 5\n"));
    ck_assert(strstr(t, "onegate_bearer_throttled_total{reason=\"client_budget\"} 0\n"));
    ck_assert(strstr(t, "onegate_bearer_throttled_total{reason=\"signature_cap\"} 5\n"));
    free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log_metrics");
    TCase *t = tcase_create("core");
    tcase_add_test(t, json_escape);
    tcase_add_test(t, access_line);
    tcase_add_test(t, metrics_sum_and_render);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
