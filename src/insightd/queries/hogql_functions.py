"""The functions a SQL insight may call: PostHog's HogQL ClickHouse functions and aggregations
(``HOGQL_CLICKHOUSE_FUNCTIONS`` = posthog/hogql/functions/mapping.py with functions/clickhouse/*.py, and
``HOGQL_AGGREGATIONS`` in functions/aggregations.py), by name. Left out: PostHog's own UDFs and
``languageCodeToName`` (not in ClickHouse), ``generateSeries`` (a table function), ``percentile_cont`` /
``percentile_disc`` (WITHIN GROUP). ``arrayReduce`` takes only an allowed aggregation's name (the sandbox
checks it).

HogQL names ClickHouse lacks or runs differently are translated as PostHog's printer does
(``translate``): ``toInt(x)`` → ``accurateCastOrNull(x, 'Int64')``, ``now()`` → ``now64(6, '<project tz>')``,
``toDateTime('…')`` → best-effort parsing in the project's time zone, PostgreSQL spellings (``date_part``,
``split_part``, ``string_agg`` …) → their ClickHouse forms.

Anything else is refused like PostHog's printer does ("Unsupported function call 'x(...)'"): an allowlist,
so functions that reveal the server (``version``, ``currentDatabase``, ``getServerSetting`` …) or reach
outside the project's rows (``dictGet``, ``joinGet``, ``file`` …) stay out whatever their spelling.
Names are compared case-insensitively: a differently-cased spelling ClickHouse does not know fails there.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

import sqlglot
from sqlglot import exp

from insightd.errors import QueryError
from insightd.queries.hogql_columns import chain
from insightd.queries.hogql_dialect import DIALECT

_FUNCTIONS = """
plus minus multiply divide intDiv intDivOrZero modulo moduloOrZero positiveModulo negate abs gcd lcm
max2 min2 multiplyDecimal divideDecimal empty notEmpty length reverse array range arrayConcat
arrayElement has hasAll hasAny hasSubstr indexOf arrayCount countEqual arrayEnumerate arrayEnumerateUniq
arrayPopBack arrayPopFront arrayPushBack arrayPushFront arrayResize arraySlice arraySort
arrayReverseSort arrayUniq arrayJoin arrayDifference arrayDistinct arrayEnumerateDense arrayIntersect
arrayReverse arrayFilter arrayFlatten arrayCompact arrayZip arrayAUC arrayMap arrayFill arraySplit
arrayReverseFill arrayReverseSplit arrayExists arrayAll arrayFirst arrayLast arrayFirstIndex
arrayLastIndex arrayMin arrayMax arraySum arrayAvg arrayCumSum arrayCumSumNonNegative arrayProduct
equals notEquals less greater lessOrEquals greaterOrEquals and or xor not toInt toFloat toDecimal toDate
toDateTime toUUID toString toJSONString parseDateTime parseDateTimeBestEffort toTimeZone timeZoneOf
timeZoneOffset toYear toQuarter toMonth toDayOfYear toDayOfMonth toDayOfWeek toHour toMinute toSecond
toUnixTimestamp toUnixTimestamp64Milli toStartOfYear toStartOfISOYear toStartOfQuarter toStartOfMonth
toLastDayOfMonth toMonday toStartOfWeek toStartOfDay toLastDayOfWeek toStartOfHour toStartOfMinute
toStartOfSecond toStartOfFiveMinutes toStartOfTenMinutes toStartOfFifteenMinutes toTime toISOYear
toISOWeek toWeek toYearWeek age dateDiff dateTrunc dateAdd dateSub timeStampAdd timeStampSub now
nowInBlock today yesterday timeSlot toYYYYMM toYYYYMMDD toYYYYMMDDhhmmss addYears addMonths addWeeks
addDays addHours addMinutes addSeconds addQuarters subtractYears subtractMonths subtractWeeks
subtractDays subtractHours subtractMinutes subtractSeconds subtractQuarters timeSlots formatDateTime
dateName monthName fromUnixTimestamp toModifiedJulianDay fromModifiedJulianDay toIntervalSecond
toIntervalMinute toIntervalHour toIntervalDay toIntervalWeek toIntervalMonth toIntervalQuarter
toIntervalYear lengthUTF8 leftPad rightPad leftPadUTF8 rightPadUTF8 lower upper lowerUTF8 upperUTF8
isValidUTF8 toValidUTF8 repeat format reverseUTF8 concat substring substringUTF8
appendTrailingCharIfAbsent convertCharset base58Encode base58Decode tryBase58Decode base64Encode
base64Decode tryBase64Decode endsWith startsWith trim trimLeft trimRight encodeXMLComponent
decodeXMLComponent extractTextFromHTML ascii concatWithSeparator position positionCaseInsensitive
positionUTF8 positionCaseInsensitiveUTF8 multiSearchAllPositions multiSearchAllPositionsUTF8
multiSearchFirstPosition multiSearchFirstIndex multiSearchAny match multiMatchAny multiMatchAnyIndex
multiMatchAllIndices multiFuzzyMatchAny multiFuzzyMatchAnyIndex multiFuzzyMatchAllIndices extract
extractAll extractAllGroupsHorizontal extractAllGroupsVertical like ilike notLike notILike ngramDistance
ngramSearch countSubstrings countSubstringsCaseInsensitive countSubstringsCaseInsensitiveUTF8
countMatches regexpExtract replace replaceAll replaceOne replaceRegexpAll replaceRegexpOne
regexpQuoteMeta translate translateUTF8 if multiIf e pi exp log ln exp2 log2 exp10 log10 sqrt cbrt erf
erfc lgamma tgamma sin cos tan asin acos atan pow power intExp2 intExp10 cosh acosh sinh asinh atanh
atan2 hypot log1p sign degrees radians factorial width_bucket floor ceil trunc round roundBankers
roundToExp2 roundDuration roundAge roundDown map mapFromArrays mapAdd mapSubtract mapPopulateSeries
mapContains mapKeys mapValues mapContainsKeyLike mapExtractKeyLike mapApply mapFilter mapUpdate
splitByChar splitByString splitByRegexp splitByWhitespace splitByNonAlpha arrayStringConcat alphaTokens
extractAllGroups ngrams tokens bitAnd bitOr bitXor bitNot bitShiftLeft bitShiftRight bitRotateLeft
bitRotateRight bitSlice bitTest bitTestAll bitTestAny bitCount bitHammingDistance bitmapBuild
bitmapToArray bitmapSubsetInRange bitmapSubsetLimit subBitmap bitmapContains bitmapHasAny bitmapHasAll
bitmapCardinality bitmapMin bitmapMax bitmapTransform bitmapAnd bitmapOr bitmapXor bitmapAndnot
bitmapAndCardinality bitmapOrCardinality bitmapXorCardinality bitmapAndnotCardinality protocol domain
domainWithoutWWW topLevelDomain firstSignificantSubdomain cutToFirstSignificantSubdomain
cutToFirstSignificantSubdomainWithWWW port path pathFull queryString fragment queryStringAndFragment
extractURLParameter extractURLParameters extractURLParameterNames URLHierarchy URLPathHierarchy
encodeURLComponent decodeURLComponent encodeURLFormComponent decodeURLFormComponent netloc cutWWW
cutQueryString cutFragment cutQueryStringAndFragment cutURLParameter isValidJSON JSONHas JSONLength
JSONArrayLength JSONType JSONExtract JSONExtractUInt JSONExtractInt JSONExtractFloat JSONExtractBool
JSONExtractString JSONExtractKey JSONExtractKeys JSONExtractRaw JSONExtractArrayRaw
JSONExtractKeysAndValues JSONExtractKeysAndValuesRaw JSON_VALUE in notIn greatCircleDistance geoDistance
greatCircleAngle pointInEllipses pointInPolygon geohashEncode geohashDecode geohashesInBox isNull
isNotNull coalesce ifNull nullIf assumeNotNull toNullable tuple tupleElement untuple
tupleHammingDistance tupleToNameValuePairs tuplePlus tupleMinus tupleMultiply tupleDivide tupleNegate
tupleMultiplyByNumber tupleDivideByNumber dotProduct isFinite isInfinite ifNotFinite isNaN bar transform
formatReadableDecimalSize formatReadableSize formatReadableQuantity formatReadableTimeDelta least
greatest tumble hop tumbleStart tumbleEnd hopStart hopEnd L1Norm L2Norm LinfNorm LpNorm L1Distance
L2Distance LinfDistance LpDistance L1Normalize L2Normalize LinfNormalize LpNormalize cosineDistance rank
dense_rank row_number first_value last_value nth_value lagInFrame leadInFrame lag lead
hex unhex reinterpretAsUInt8 reinterpretAsUInt16 reinterpretAsUInt32 reinterpretAsUInt64 reinterpretAsUInt128
reinterpretAsUInt256 reinterpretAsInt8 reinterpretAsInt16 reinterpretAsInt32 reinterpretAsInt64
reinterpretAsInt128 reinterpretAsInt256 reinterpretAsFloat32 reinterpretAsFloat64 reinterpretAsUUID
toIntOrZero toFloatOrZero toFloatOrDefault toUUIDOrDefault toNullableString toBool toTypeName cityHash64
UUIDv7ToDateTime to_date toDateTime64 toDateTimeUS isnull ifnull nullif fromUnixTimestamp64Milli
toStartOfInterval date_bin date_add date_subtract date_diff rowNumberInBlock rowNumberInAllBlocks
current_timestamp current_date date_part date_trunc to_timestamp to_char make_timestamp make_date
make_interval make_timestamptz timezone left right initcap lpad rpad split_part ltrim rtrim btrim locate
extractGroups multiSearchAllPositionsCaseInsensitive multiSearchAllPositionsCaseInsensitiveUTF8
multiSearchAnyUTF8 multiSearchAnyCaseInsensitive multiSearchAnyCaseInsensitiveUTF8 multiSearchFirstIndexUTF8
multiSearchFirstIndexCaseInsensitive multiSearchFirstIndexCaseInsensitiveUTF8 multiSearchFirstPositionUTF8
multiSearchFirstPositionCaseInsensitive multiSearchFirstPositionCaseInsensitiveUTF8
ngramDistanceCaseInsensitive ngramDistanceUTF8 ngramDistanceCaseInsensitiveUTF8 ngramSearchCaseInsensitive
ngramSearchUTF8 ngramSearchCaseInsensitiveUTF8 countMatchesCaseInsensitive hasSubsequence
hasSubsequenceCaseInsensitive hasSubsequenceUTF8 hasSubsequenceCaseInsensitiveUTF8 hasToken
hasTokenCaseInsensitive hasTokenOrNull hasTokenCaseInsensitiveOrNull hasAllTokens hasAnyTokens isEmpty
isNotEmpty arrayReduce arrayFold arrayWithConstant arrayRotateLeft arrayRotateRight arrayStringConcat rand
indexHint extractIPv4Substrings h3IsValid h3GetResolution h3GetBaseCell h3EdgeAngle h3EdgeLengthM
h3EdgeLengthKm geoToH3 h3ToGeo h3ToGeoBoundary h3kRing h3HexAreaM2 h3HexAreaKm2 h3IndexesAreNeighbors
h3ToChildren h3ToParent h3ToString stringToH3 h3IsResClassIII h3IsPentagon h3GetFaces h3CellAreaM2
h3CellAreaRads2 h3ToCenterChild h3ExactEdgeLengthM h3ExactEdgeLengthKm h3ExactEdgeLengthRads h3NumHexagons
h3PointDistM h3PointDistKm h3PointDistRads h3GetRes0Indexes h3GetPentagonIndexes h3Line h3Distance h3HexRing
h3GetUnidirectionalEdge h3UnidirectionalEdgeIsValid h3GetOriginIndexFromUnidirectionalEdge
h3GetDestinationIndexFromUnidirectionalEdge h3GetIndexesFromUnidirectionalEdge
h3GetUnidirectionalEdgesFromHexagon h3GetUnidirectionalEdgeBoundary
"""

_AGGREGATIONS = """
count countIf countDistinct countDistinctIf min minIf max maxIf sum sumIf avg avgIf any anyIf stddevPop
stddevPopIf stddevSamp stddevSampIf varPop varPopIf varSamp varSampIf covarPop covarPopIf covarSamp
covarSampIf corr anyHeavy anyHeavyIf anyLast anyLastIf argMin argMinIf argMax argMaxIf avgWeighted
avgWeightedIf topK groupArray groupArrayIf groupUniqArray groupUniqArrayIf groupArrayInsertAt
groupArrayInsertAtIf groupArrayMovingAvg groupArrayMovingAvgIf groupArrayMovingSum groupArrayMovingSumIf
groupBitAnd groupBitAndIf groupBitOr groupBitOrIf groupBitXor groupBitXorIf groupBitmap groupBitmapIf
groupBitmapAnd groupBitmapAndIf groupBitmapOr groupBitmapOrIf groupBitmapXor groupBitmapXorIf
sumWithOverflow sumWithOverflowIf deltaSum deltaSumIf deltaSumTimestamp deltaSumTimestampIf sumMap
sumMapIf minMap minMapIf maxMap maxMapIf skewSamp skewSampIf skewPop skewPopIf kurtSamp kurtSampIf
kurtPop kurtPopIf uniq uniqIf uniqExact uniqExactIf uniqHLL12 uniqHLL12If uniqTheta uniqThetaIf median
medianIf medianExact medianExactIf medianExactLow medianExactLowIf medianExactHigh medianExactHighIf
medianExactWeighted medianExactWeightedIf medianTiming medianTimingIf medianTimingWeighted
medianTimingWeightedIf medianDeterministic medianDeterministicIf medianTDigest medianTDigestIf
medianTDigestWeighted medianTDigestWeightedIf medianBFloat16 medianBFloat16If quantile quantileIf
quantiles quantilesIf simpleLinearRegression simpleLinearRegressionIf contingency contingencyIf cramersV
cramersVIf cramersVBiasCorrected cramersVBiasCorrectedIf theilsU theilsUIf maxIntersections
maxIntersectionsIf maxIntersectionsPosition maxIntersectionsPositionIf countState countMerge countStateIf
countMapIf sumForEach minForEach avgMap avgMapIf avgMapState avgMapMerge avgMapMergeIf array_agg json_agg
string_agg every argMinMerge argMaxMerge argMinState argMaxState sumForEachState sumForEachMerge avgState
avgStateIf avgMerge avgMergeIf avgArray groupUniqArrayArray groupUniqArrayArrayIf groupArraySample
groupArraySampleIf groupBitmapState groupBitmapAndState groupBitmapOrState sumMapMerge sumMapMergeIf sumMerge
sumMergeIf sumState sumStateIf medianArray uniqExactState uniqExactMerge uniqMerge uniqMergeIf uniqMap
uniqMapMerge uniqMapMergeIf uniqState uniqStateIf uniqUpToMerge quantilesState quantilesStateIf
quantilesMerge quantilesMergeIf quantileExact windowFunnel md5
"""

# PostHog generates combinator forms of a few aggregations (aggregations.py: COMBINATORS): each suffix may
# be followed by the ones listed for it.
_COMBINED = ("avg", "sum", "min", "max", "count", "countDistinct", "median")
_FOLLOWERS: dict[str, tuple[str, ...]] = {
    "If": (),
    "OrDefault": ("If",),
    "OrNull": ("If",),
    **dict.fromkeys(
        ("Array", "Map", "State", "Merge", "ForEach", "ArgMin", "ArgMax"), ("If", "OrDefault", "OrNull")
    ),
}


def _combinations(name: str, used: tuple[str, ...]) -> set[str]:
    following = _FOLLOWERS[used[-1]] if used else tuple(_FOLLOWERS)
    found: set[str] = set()
    for suffix in following:
        if suffix not in used:
            found.add(name + "".join(used) + suffix)
            found |= _combinations(name, (*used, suffix))
    return found


@cache
def allowed() -> frozenset[str]:
    """Every callable name, lower-cased."""
    names = set(_FUNCTIONS.split()) | set(_AGGREGATIONS.split())
    for base in _COMBINED:
        names |= _combinations(base, ())
    # CAST(x, 'T') is the function form of HogQL's CAST(x AS T).
    names.add("cast")
    return frozenset(n.lower() for n in names)


def is_allowed(name: str) -> bool:
    return name.lower() in allowed()


# PostHog's clickhouse_name for HogQL names ClickHouse lacks or runs differently (functions/clickhouse/*.py,
# aggregations.py, mapping.py): a template over the arguments ({0}, {1} …; {tz} is the project's time zone)
# per number of arguments. ``toDate`` / ``toDateTime`` (string forms) and ``toDecimal`` are in ``translate``.
_ACCURATE = "accurateCastOrNull({0}, '%s')"
_TEMPLATES: dict[str, dict[int, str]] = {
    "toint": {1: _ACCURATE % "Int64"},
    "tointorzero": {1: "toInt64OrZero({0})"},
    "tofloat": {1: _ACCURATE % "Float64"},
    "tofloatorzero": {1: "toFloat64OrZero({0})"},
    "tofloatordefault": {1: "toFloat64OrDefault({0})", 2: "toFloat64OrDefault({0}, {1})"},
    "touuid": {1: _ACCURATE % "UUID"},
    "tonullablestring": {1: _ACCURATE % "Nullable(String)"},
    # PostHog's are the OrNull forms, which this ClickHouse (chDB) lacks: a value that is no date fails.
    "parsedatetime": {2: "parseDateTime({0}, {1}, {tz})"},
    "parsedatetimebesteffort": {
        1: "parseDateTime64BestEffort({0}, 6, {tz})",
        2: "parseDateTime64BestEffort({0}, 6, {1})",
    },
    "todatetimeus": {
        1: "parseDateTime64BestEffortUSOrNull({0}, 6, {tz})",
        2: "parseDateTime64BestEffortUSOrNull({0}, 6, {1})",
    },
    "todatetime64": {
        1: "toDateTime64({0}, 6, {tz})",
        2: "toDateTime64({0}, {1}, {tz})",
        3: "toDateTime64({0}, {1}, {2})",
    },
    "tomodifiedjulianday": {1: "toModifiedJulianDayOrNull({0})"},
    "frommodifiedjulianday": {1: "fromModifiedJulianDayOrNull({0})"},
    "now": {0: "now64(6, {tz})", 1: "now64(6, {0})"},
    "current_timestamp": {0: "now64(6, {tz})"},
    "current_date": {0: "today()"},
    "date_subtract": {2: "date_sub({0}, {1})"},
    "date_bin": {3: "toStartOfInterval({1}, {0}, {2})"},
    "date_part": {
        2: "arrayElement(arrayMap((part, dt) -> multiIf(part = 'year', toYear(dt), part = 'month', "
        "toMonth(dt), part = 'day', toDayOfMonth(dt), part = 'hour', toHour(dt), part = 'minute', "
        "toMinute(dt), part = 'second', toSecond(dt), part = 'dow', toDayOfWeek(dt), part = 'doy', "
        "toDayOfYear(dt), part = 'quarter', toQuarter(dt), NULL), [{0}], [{1}]), 1)"
    },
    "to_timestamp": {1: "toDateTime(fromUnixTimestamp({0}), {tz})"},
    "to_char": {2: "formatDateTime({0}, {1}, {tz})", 3: "formatDateTime({0}, {1}, {2})"},
    "make_timestamp": {
        6: "makeDateTime({0}, {1}, {2}, {3}, {4}, {5}, {tz})",
        7: "makeDateTime({0}, {1}, {2}, {3}, {4}, {5}, {6})",
    },
    "make_date": {3: "makeDate({0}, {1}, {2})"},
    "make_interval": {
        6: "toIntervalYear({0}) + toIntervalMonth({1}) + toIntervalDay({2}) + toIntervalHour({3}) + "
        "toIntervalMinute({4}) + toIntervalSecond({5})"
    },
    "make_timestamptz": {7: "toTimeZone(makeDateTime({0}, {1}, {2}, {3}, {4}, {5}), {6})"},
    "timezone": {2: "toTimeZone({1}, {0})"},
    "totimezone": {1: "toTimeZone({0}, {tz})"},
    "left": {2: "leftUTF8({0}, {1})"},
    "right": {2: "rightUTF8({0}, {1})"},
    "split_part": {
        3: "arrayElement(arrayMap((parts, idx) -> if(empty(parts), '', if(length(parts) >= idx, "
        "arrayElement(parts, idx), '')), [splitByString({1}, {0})], [{2}]), 1)"
    },
    "ltrim": {1: "trimLeft({0})", 2: "trim(LEADING {1} FROM {0})"},
    "trimleft": {2: "trim(LEADING {1} FROM {0})"},
    "rtrim": {1: "trimRight({0})", 2: "trim(TRAILING {1} FROM {0})"},
    "trimright": {2: "trim(TRAILING {1} FROM {0})"},
    "btrim": {1: "trimBoth({0})", 2: "trim(BOTH {1} FROM {0})"},
    "trim": {2: "trim(BOTH {1} FROM {0})"},
    "isempty": {1: "empty({0})"},
    "isnotempty": {1: "notEmpty({0})"},
    "lag": {1: "lagInFrame({0})", 2: "lagInFrame({0}, {1})", 3: "lagInFrame({0}, {1}, {2})"},
    "lead": {1: "leadInFrame({0})", 2: "leadInFrame({0}, {1})", 3: "leadInFrame({0}, {1}, {2})"},
    "json_agg": {1: "toJSONString(groupArray({0}))"},
    "string_agg": {2: "arrayStringConcat(groupArray({0}), {1})"},
    "every": {1: "toBool(min({0}))"},
    "avgarray": {1: "avgArrayOrNull({0})"},
    "medianarray": {1: "medianArrayOrNull({0})"},
    "md5": {1: "hex(MD5({0}))"},
}
# Names that must be translated: ClickHouse lacks them, or runs another function under the name
# (``timezone()`` is the server's time zone). Any other number of arguments is refused.
_MUST_TRANSLATE = frozenset(
    {
        "toint",
        "tointorzero",
        "tofloat",
        "tofloatorzero",
        "tofloatordefault",
        "todecimal",
        "tonullablestring",
        "to_date",
        "todatetimeus",
        "date_subtract",
        "date_part",
        "to_timestamp",
        "to_char",
        "make_timestamp",
        "make_date",
        "make_interval",
        "make_timestamptz",
        "timezone",
        "split_part",
        "btrim",
        "isempty",
        "isnotempty",
        "json_agg",
        "string_agg",
        "every",
        "md5",
        "current_timestamp",
        "current_date",
    }
)
_STRING_CALLS = frozenset(
    {"tostring", "concat", "lower", "upper", "jsonextractstring", "substring", "replaceall"}
)
_DATETIME64 = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{1,6}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?$")


def _is_string(node: exp.Expr) -> bool:
    """Statically a String: a string literal, an event or person property, or a call that returns one."""
    if isinstance(node, exp.Literal):
        return bool(node.is_string)
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower() in _STRING_CALLS
    parts = chain(node)
    return parts is not None and "properties" in parts[:-1]


def _date_template(name: str, args: list[exp.Expr]) -> str | None:
    """PostHog's toDate / toDateTime: of a string, its OrNull / best-effort form; else as written (the
    project's zone added to toDateTime)."""
    if name in ("todate", "to_date"):
        if len(args) != 1:
            return None
        return "toDateOrNull({0})" if _is_string(args[0]) else "toDate({0})"
    if len(args) not in (1, 2):
        return None
    zone = "{tz}" if len(args) == 1 else "{1}"
    first = args[0]
    if not _is_string(first):
        return f"toDateTime({{0}}, {zone})"
    if isinstance(first, exp.Literal):
        text = str(first.this)
        if _DATETIME64.match(text):
            return f"toDateTime64({{0}}, 6, {zone})"
        if _DATETIME.match(text):
            return f"toDateTime({{0}}, {zone})"
        return f"parseDateTime64BestEffort({{0}}, 6, {zone})"
    # PostHog's parseDateTime64BestEffortOrNull is missing from chDB: text that is no date fails.
    return f"parseDateTime64BestEffort({{0}}, 6, {zone})"


@lru_cache(maxsize=256)  # bounded: a toDecimal template holds the scale the user wrote
def _parsed_template(template: str) -> exp.Expr:
    """``template`` parsed, its ``{0}``, ``{1}`` … and ``{tz}`` as columns ``__insightd_arg_…`` (copy before
    filling them in)."""
    marked = template.replace("{tz}", "__insightd_arg_tz")
    marked = re.sub(r"\{(\d+)\}", r"__insightd_arg_\1", marked)
    return sqlglot.parse_one(marked, read=DIALECT)


def translate(name: str, args: list[exp.Expr], timezone: str) -> exp.Expr | None:
    """The ClickHouse expression PostHog's printer makes of HogQL call ``name(args)``; None if the call
    reaches ClickHouse as written. A name ClickHouse lacks, called with arguments PostHog does not take, is
    refused."""
    key = name.lower()
    if key == "todecimal":
        scale = args[1] if len(args) == 2 else None
        if not (isinstance(scale, exp.Literal) and not scale.is_string and str(scale.this).isdigit()):
            raise QueryError("toDecimal takes a value and a whole-number scale: toDecimal(x, 2).")
        template: str | None = f"accurateCastOrNull({{0}}, 'Decimal64({int(str(scale.this))})')"
    elif key in ("todate", "to_date", "todatetime"):
        template = _date_template(key, args)
    else:
        template = _TEMPLATES.get(key, {}).get(len(args))
    if template is None:
        if key in _MUST_TRANSLATE:
            counts = sorted(_TEMPLATES.get(key, {1: ""}))
            expected = " or ".join(str(c) for c in counts)
            raise QueryError(f"Function '{name}' expects {expected} argument(s), found {len(args)}.")
        return None
    parsed = _parsed_template(template).copy()
    zone = exp.Literal.string(timezone)
    for column in list(parsed.find_all(exp.Column)):
        if column.table or not column.name.startswith("__insightd_arg_"):
            continue
        at = column.name.removeprefix("__insightd_arg_")
        column.replace(zone.copy() if at == "tz" else args[int(at)].copy())
    return parsed
