/** The token format's shared cases under Node's WebCrypto (the email builder and `npm run token` mint here). */
import { describeTokenCases } from "../shared/token-cases";

describeTokenCases("Node");
