/* RFC 3339 timestamps <-> int64 nanoseconds since the Unix epoch, UTC.
 * Its own file because three unrelated jobs need it: entity JSON (entity_json.c), event JSON
 * (event_json.c) and command-line index values (value_parse.c); none of them should depend on
 * another for a date conversion. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rfc3339.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil): exact for
 * every year, no dependency on timegm() or the TZ environment. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era;
    unsigned doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* v as exactly n decimal digits at p (v < 10^n) */
static void put_digits(char *p, int n, uint64_t v)
{
    while (n-- > 0) {
        p[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* "1970-01-01T00:00:00.000000000Z": always 9 fraction digits, so that text order is time order. */
void ent__ts_format(char buf[48], int64_t ns)
{
    int64_t sec = ns / 1000000000, frac = ns % 1000000000, days, y;
    unsigned m, d, sod;
    if (frac < 0) {
        frac += 1000000000;
        sec--;
    }
    days = sec / 86400;
    if (sec % 86400 < 0) days--;
    sod = (unsigned)(sec - days * 86400);
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) { /* int64 ns spans 1677..2262: never, but no wrong width */
        snprintf(buf, 48, "%04lld-%02u-%02uT%02u:%02u:%02u.%09lldZ", (long long)y, m, d, sod / 3600,
                 sod / 60 % 60, sod % 60, (long long)frac);
        return;
    }
    /* digit by digit: every event prints one, and snprintf was a tenth of an event's JSON */
    memcpy(buf, "0000-00-00T00:00:00.000000000Z", 31);
    put_digits(buf, 4, (uint64_t)y);
    put_digits(buf + 5, 2, m);
    put_digits(buf + 8, 2, d);
    put_digits(buf + 11, 2, sod / 3600);
    put_digits(buf + 14, 2, sod / 60 % 60);
    put_digits(buf + 17, 2, sod % 60);
    put_digits(buf + 20, 9, (uint64_t)frac);
}

static int digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* RFC 3339 date-time: fraction of 0 to 9 digits, 'Z' or a +hh:mm / -hh:mm offset. */
int ent__ts_parse(int64_t *out, const char *s, size_t n)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned y, mo, d, h, mi, sec, oh, om, dim;
    int64_t frac = 0, total, offset = 0;
    size_t i = 19;
    if (n < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 59) return -1;
    dim = mdays[mo - 1] + (mo == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)));
    if (d < 1 || d > dim) return -1;
    if (s[i] == '.') {
        size_t nd = 0;
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (++nd > 9) return -1;
            frac = frac * 10 + (s[i++] - '0');
        }
        if (nd == 0) return -1;
        while (nd++ < 9) frac *= 10;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        if (n - i < 6 || digits(s + i + 1, 2, &oh) || s[i + 3] != ':' || digits(s + i + 4, 2, &om) ||
            oh > 23 || om > 59)
            return -1;
        offset = ((int64_t)oh * 60 + om) * 60 * (s[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        return -1;
    }
    if (i != n) return -1;
    total = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    /* Borrow a second so that the earliest instants (INT64_MIN ns has a fraction) do not
     * overflow in the multiplication. */
    if (total < 0 && frac > 0) {
        total++;
        frac -= 1000000000;
    }
    if (__builtin_mul_overflow(total, (int64_t)1000000000, &total) ||
        __builtin_add_overflow(total, frac, &total))
        return -2;
    *out = total;
    return 0;
}

/* The first thing that keeps s from being a timestamp ent__ts_parse() takes, checked in the order
 * a reader writes one. Only the usual slips are named; the rest is "not RFC 3339". */
const char *ent__ts_why(const char *s, size_t n)
{
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned y, mo, d, h, mi, sec;
    size_t i = 19;
    if (n < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d))
        return "no date in the form YYYY-MM-DD at its start";
    if (mo < 1 || mo > 12) return "no such month";
    if (d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
        return "no such day in that month";
    if (n == 10) return "a date without a time (RFC 3339 has YYYY-MM-DDThh:mm:ssZ)";
    if (s[10] == ' ') return "a space between date and time, where RFC 3339 has 'T'";
    if (s[10] != 'T' && s[10] != 't') return "no 'T' between date and time";
    if (n < 19 || digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
        return "no time in the form hh:mm:ss after the 'T'";
    if (sec == 60) return "second 60 (a leap second): none is kept, write :59.999999999";
    if (h > 23 || mi > 59 || sec > 59) return "an hour, minute or second out of range";
    if (i < n && s[i] == '.') {
        size_t nd = 0;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) nd++;
        if (!nd) return "a '.' without fraction digits";
        if (nd > 9) return "more than 9 fraction digits (nanoseconds are the finest kept)";
    }
    if (i == n) return "no time zone at its end ('Z' or an offset such as +02:00)";
    if (s[i] != 'Z' && s[i] != 'z' && s[i] != '+' && s[i] != '-') return "no time zone where it should be ('Z' or +hh:mm)";
    if (s[i] == '+' || s[i] == '-') return "an offset not in the form +hh:mm (hours 00-23, minutes 00-59)";
    return "something after the time zone";
}
