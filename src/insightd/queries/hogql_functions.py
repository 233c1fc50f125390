"""The functions a SQL insight may call: PostHog's HogQL ClickHouse functions and aggregations
(``HOGQL_CLICKHOUSE_FUNCTIONS``, ``HOGQL_AGGREGATIONS`` in posthog/hogql/functions/), by name.

Anything else is refused like PostHog's printer does ("Unsupported function call 'x(...)'"): an allowlist,
so functions that reveal the server (``version``, ``currentDatabase``, ``getServerSetting`` …) or reach
outside the project's rows (``dictGet``, ``joinGet``, ``file`` …) stay out whatever their spelling.
Names are compared case-insensitively: a differently-cased spelling ClickHouse does not know fails there.
"""

from __future__ import annotations

from functools import cache

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
maxIntersectionsIf maxIntersectionsPosition maxIntersectionsPositionIf
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
