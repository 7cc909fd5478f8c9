// Route-target syntax (ASN:NN or A.B.C.D:NN), with upstream's messages.
import { ipFamily, isIp } from '../ipam/ip.js';

const UINT32_MAX = 4294967295;

/** Returns undefined when `rt` is a valid route target, else the reason. */
export function routeTargetProblem(rt: string): string | undefined {
  const parts = rt.split(':');
  if (parts.length !== 2)
    return `RT ${JSON.stringify(rt)} must have one of the following formats: 'ASN:MN' or 'IPv4Address:MN'`;
  const [admin, assigned] = parts as [string, string];
  if (isIp(admin) && ipFamily(admin) === 4) {
    if (!/^\d+$/.test(assigned) || Number(assigned) > 65535)
      return `RT format must have A.B.C.D:MN where MN <= 65535: ${rt}`;
    return undefined;
  }
  // As upstream: only a dotted quad that is not an address (999.1.2.3) gets the IPv4 message; `a.b` is a bad ASN.
  if (/^\d+\.\d+\.\d+\.\d+$/.test(admin)) {
    return `RT format must have A.B.C.D:MN where A.B.C.D is a valid IPv4 address: ${rt}`;
  }
  if (!/^\d+$/.test(admin) || Number(admin) > UINT32_MAX) return `RT format must have ASN:MN: ${rt}`;
  if (!/^\d+$/.test(assigned)) return `RT format must have ASN:MN where MN is a number: ${rt}`;
  const asn = Number(admin);
  const mn = Number(assigned);
  if (asn <= 65535) {
    if (mn > UINT32_MAX) return `RT format with 2-byte ASN must have ASN:MN where MN <= 4294967295: ${rt}`;
  } else if (mn > 65535) {
    return `RT format with 4-byte ASN must have ASN:MN where MN <= 65535: ${rt}`;
  }
  return undefined;
}
