using System;
using System.Numerics;

namespace MikroBILL
{
    /// <summary>
    /// Shortest decimal digits that read back as the same binary floating-point value, computed with
    /// exact integer arithmetic. PHP 7.1+ (serialize_precision = -1) prints doubles from exactly these
    /// digits; the runtime's own "R" format is not shortest on every runtime (the .NET Framework and
    /// older Mono try 15 then 17 digits), so the digits are derived here instead of borrowed.
    /// </summary>
    internal static class ShortestDecimal
    {
        /// <summary>Digits without leading or trailing zeros, and the decimal point position:
        /// the value is 0.DIGITS times 10^DecimalPoint (dtoa's "decpt" convention).</summary>
        internal struct Result
        {
            public string Digits;
            public int DecimalPoint;
        }

        internal static Result FromDouble(double value)
        {
            long bits = BitConverter.DoubleToInt64Bits(value);
            int biased = (int)((bits >> 52) & 0x7FF);
            long fraction = bits & 0xFFFFFFFFFFFFFL;
            return Compute(fraction, biased, 52, 1075, 17);
        }

        internal static Result FromSingle(float value)
        {
            if (value == 0f)
            {
                return new Result { Digits = "0", DecimalPoint = 1 };
            }
            // BitConverter.SingleToInt32Bits is missing from netstandard2.0; a double holds every
            // float exactly, so its bits give the float's mantissa and exponent without loss.
            long bits = BitConverter.DoubleToInt64Bits((double)value);
            int biased64 = (int)((bits >> 52) & 0x7FF);
            long fraction64 = bits & 0xFFFFFFFFFFFFFL;
            int exponent = biased64 - 1023;
            long fraction;
            int biased;
            if (exponent >= -126)
            {
                biased = exponent + 127;
                fraction = fraction64 >> 29;
            }
            else
            {
                // A float subnormal is a normal double; rebuild the float's subnormal mantissa.
                biased = 0;
                fraction = ((fraction64 | (1L << 52)) >> 29) >> (-126 - exponent);
            }
            return Compute(fraction, biased, 23, 150, 9);
        }

        // fraction/biased are the stored IEEE fields; value = mantissa * 2^(biased - bias) with
        // bias = exponentBias + fractionBits (1075 for doubles, 150 for floats).
        private static Result Compute(long fraction, int biased, int fractionBits, int bias, int maxDigits)
        {
            if (fraction == 0 && biased == 0)
            {
                return new Result { Digits = "0", DecimalPoint = 1 };
            }
            long mantissa;
            int exponent;
            bool asymmetric;
            if (biased == 0)
            {
                mantissa = fraction;
                exponent = 1 - bias;
                asymmetric = false;
            }
            else
            {
                mantissa = fraction | (1L << fractionBits);
                exponent = biased - bias;
                // At a power of two (other than the smallest normal) the next value below is
                // half as far away as the next value above, so the rounding interval is lopsided.
                asymmetric = fraction == 0 && biased > 1;
            }
            // Everything scaled by 4 so the interval bounds are integers times 2^(exponent - 2).
            BigInteger m4 = new BigInteger(mantissa) * 4;
            BigInteger low = m4 - (asymmetric ? 1 : 2);
            BigInteger high = m4 + 2;
            int binExp = exponent - 2;
            // Round-half-even on input means ties go to an even mantissa, so bounds are inclusive then.
            bool inclusive = (mantissa & 1) == 0;

            int k = EstimateDecimalPoint(m4, binExp);
            for (int p = 1; p <= maxDigits; p++)
            {
                int q = k - p;
                BigInteger d = RoundedDigits(m4, binExp, q);
                int dq = q;
                if (d == BigInteger.Pow(10, p))
                {
                    d = BigInteger.Pow(10, p - 1);
                    dq = q + 1;
                }
                // The correctly rounded candidate is the closest; on a lopsided interval its
                // upper neighbour can still fit when it does not, so try that one too.
                if (Within(d, dq, low, high, binExp, inclusive))
                {
                    return Make(d, dq);
                }
                if (Within(d + 1, dq, low, high, binExp, inclusive))
                {
                    return Make(d + 1, dq);
                }
            }
            throw new InvalidOperationException("no round-trip representation within " + maxDigits + " digits");
        }

        // Smallest k with value < 10^k, i.e. 10^(k-1) <= value < 10^k.
        private static int EstimateDecimalPoint(BigInteger m4, int binExp)
        {
            double approx = BigInteger.Log10(m4) + binExp * Math.Log10(2.0);
            int k = (int)Math.Floor(approx) + 1;
            while (Compare(m4, binExp, BigInteger.One, k) >= 0)
            {
                k++;
            }
            while (Compare(m4, binExp, BigInteger.One, k - 1) < 0)
            {
                k--;
            }
            return k;
        }

        // round(m4 * 2^binExp / 10^q), ties to even.
        private static BigInteger RoundedDigits(BigInteger m4, int binExp, int q)
        {
            BigInteger num = m4;
            BigInteger den = BigInteger.One;
            if (binExp >= 0) num <<= binExp; else den <<= -binExp;
            if (q >= 0) den *= BigInteger.Pow(10, q); else num *= BigInteger.Pow(10, -q);
            BigInteger remainder;
            BigInteger quotient = BigInteger.DivRem(num, den, out remainder);
            int cmp = (remainder * 2).CompareTo(den);
            if (cmp > 0 || (cmp == 0 && !quotient.IsEven))
            {
                quotient += 1;
            }
            return quotient;
        }

        private static bool Within(BigInteger d, int q, BigInteger low, BigInteger high, int binExp, bool inclusive)
        {
            int cl = Compare(low, binExp, d, q);
            int ch = Compare(high, binExp, d, q);
            return inclusive ? (cl <= 0 && ch >= 0) : (cl < 0 && ch > 0);
        }

        // Sign of (a * 2^binExp) - (d * 10^q), exactly.
        private static int Compare(BigInteger a, int binExp, BigInteger d, int q)
        {
            BigInteger left = a;
            BigInteger right = d;
            if (binExp >= 0) left <<= binExp; else right <<= -binExp;
            if (q >= 0) right *= BigInteger.Pow(10, q); else left *= BigInteger.Pow(10, -q);
            return left.CompareTo(right);
        }

        private static Result Make(BigInteger d, int q)
        {
            string digits = d.ToString(System.Globalization.CultureInfo.InvariantCulture);
            int point = digits.Length + q;
            return new Result { Digits = digits.TrimEnd('0'), DecimalPoint = point };
        }
    }
}
