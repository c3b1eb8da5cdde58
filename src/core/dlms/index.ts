/**
 * Public API of netmon's DLMS/COSEM stack. See docs/DLMS.md.
 */
export {DlmsClient, dataAccessError} from './client.js'
export type {DlmsClientOptions, DlmsAuth, HlsGmacSecurity, AssociationInfo, RegisterReading, ClockReading, ProfileReading, ProfileOptions} from './client.js'
export {DlmsError, isDlmsError} from './errors.js'
export type {DlmsErrorCode, DlmsErrorDetails} from './errors.js'
export type {DlmsFrameEvent, Framing} from './link/types.js'

export {D, decodeData, encodeData, parseData, toPlain, dataToNumber} from './codec/axdr.js'
export type {DlmsData, PlainValue, TypeDescription} from './codec/axdr.js'
export {parseObis, tryParseObis, formatObis, obisEquals} from './codec/obis.js'
export {unitInfo, unitSymbol, applyScaler, formatQuantity} from './codec/units.js'
export {dateTimeToIso, dateTimeToDate, dateTimeFromDate, dateTimeFromIso, encodeDateTime, decodeDateTime} from './codec/datetime.js'
export type {CosemDateTime} from './codec/datetime.js'
export {crc16x25} from './codec/crc.js'
export {decodeHdlcFrame, encodeHdlcFrame, HdlcStreamDecoder, serverAddress, serverAddressFromCombined} from './codec/hdlc.js'
export type {HdlcAddress, HdlcParams} from './codec/hdlc.js'
export {decodeWrapperFrame, encodeWrapperFrame, WrapperStreamDecoder} from './codec/wrapper.js'
export {decodeApdu, encodeApdu, encodeGetResponse, encodeGetRequest} from './codec/apdu/index.js'
export type {Apdu} from './codec/apdu/index.js'
export {ClassId, Attr, WELL_KNOWN_OBIS, obisName} from './cosem.js'
export type {CaptureObject, ScalerUnit} from './cosem.js'

export {startSimulator} from './simulator/server.js'
export type {Simulator, SimulatorOptions, SimulatorEvent, SimulatorStats, SimulatorSecurity, CipherFault} from './simulator/server.js'
export {
  FrameCounterGuard,
  InvocationCounter,
  protectApdu,
  unprotectApdu,
  parseProtectedApdu,
  hlsGmac,
  verifyHlsGmac,
  parseKeyHex,
} from './codec/security.js'
export type {SecurityReason} from './codec/security.js'
export {SecurityContext} from './security-context.js'
export {parseFault, formatFault, FAULT_TYPES} from './simulator/faults.js'
export type {Fault} from './simulator/faults.js'
export {MeterModel} from './simulator/objects.js'
export {CosemServerSession, SERVER_CONFORMANCE} from './simulator/session.js'
export {readMeter, parseTarget, guessClass, DEFAULT_TARGETS} from './read.js'
export type {ReadTarget, MeterReading, MeterReadResult, ReadMeterOptions} from './read.js'
export {loadSimulatorConfig, faultsFromConfig} from './simulator/config.js'
export type {SimulatorConfig} from './simulator/config.js'
