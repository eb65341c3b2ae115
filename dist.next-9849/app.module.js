"use strict";
var __decorate = (this && this.__decorate) || function (decorators, target, key, desc) {
    var c = arguments.length, r = c < 3 ? target : desc === null ? desc = Object.getOwnPropertyDescriptor(target, key) : desc, d;
    if (typeof Reflect === "object" && typeof Reflect.decorate === "function") r = Reflect.decorate(decorators, target, key, desc);
    else for (var i = decorators.length - 1; i >= 0; i--) if (d = decorators[i]) r = (c < 3 ? d(r) : c > 3 ? d(target, key, r) : d(target, key)) || r;
    return c > 3 && r && Object.defineProperty(target, key, r), r;
};
var AppModule_1;
Object.defineProperty(exports, "__esModule", { value: true });
exports.AppModule = void 0;
const common_1 = require("@nestjs/common");
const core_1 = require("@nestjs/core");
const typeorm_1 = require("@nestjs/typeorm");
const nestjs_pino_1 = require("nestjs-pino");
const auth_module_1 = require("./auth/auth.module");
const clock_module_1 = require("./common/clock.module");
const log_redaction_1 = require("./common/log-redaction");
const problem_filter_1 = require("./common/problem.filter");
const time_zones_1 = require("./common/time-zones");
const config_module_1 = require("./config/config.module");
const connection_budgets_1 = require("./database/connection-budgets");
const data_source_1 = require("./database/data-source");
const cadence_module_1 = require("./cadence/cadence.module");
const campaigns_module_1 = require("./campaigns/campaigns.module");
const delivery_module_1 = require("./delivery/delivery.module");
const digests_module_1 = require("./digests/digests.module");
const entity_list_1 = require("./entity-list");
const mail_events_module_1 = require("./mail-events/mail-events.module");
const metrics_module_1 = require("./metrics/metrics.module");
const operations_module_1 = require("./operations/operations.module");
const preferences_module_1 = require("./preferences/preferences.module");
const scheduler_module_1 = require("./scheduler/scheduler.module");
const shipments_module_1 = require("./shipments/shipments.module");
const subscribers_module_1 = require("./subscribers/subscribers.module");
const topics_module_1 = require("./topics/topics.module");
const webinars_module_1 = require("./webinars/webinars.module");
let AppModule = AppModule_1 = class AppModule {
    static register({ config, databaseUrl, clock }) {
        return {
            module: AppModule_1,
            imports: [
                config_module_1.ConfigModule.register(config),
                clock_module_1.ClockModule.register(clock),
                nestjs_pino_1.LoggerModule.forRoot({
                    pinoHttp: [
                        {
                            level: config.logLevel,
                            redact: log_redaction_1.REDACTED_LOG_PATHS,
                            serializers: { req: log_redaction_1.serializeRequest, res: log_redaction_1.serializeResponse, err: log_redaction_1.serializeError },
                            autoLogging: { ignore: (request) => request.url === '/health' },
                        },
                        // Every line passes scrubLogLine on its way to stdout (see common/log-redaction.ts).
                        // process.stdout (synchronous for files, TTYs and, on Linux, pipes) rather than a
                        // sonic-boom on fd 1, so whoever embeds the app sees the lines where it sees its own.
                        (0, log_redaction_1.scrubbingDestination)(process.stdout),
                    ],
                }),
                typeorm_1.TypeOrmModule.forRoot((0, data_source_1.dataSourceOptions)(databaseUrl, (0, connection_budgets_1.poolBudgets)(config), entity_list_1.ENTITIES)),
                auth_module_1.AuthModule,
                metrics_module_1.MetricsModule,
                delivery_module_1.DeliveryModule,
                mail_events_module_1.MailEventsModule,
                cadence_module_1.CadenceModule,
                topics_module_1.TopicsModule,
                subscribers_module_1.SubscribersModule,
                preferences_module_1.PreferencesModule,
                campaigns_module_1.CampaignsModule,
                digests_module_1.DigestsModule,
                shipments_module_1.ShipmentsModule,
                webinars_module_1.WebinarsModule,
                operations_module_1.OperationsModule,
                scheduler_module_1.SchedulerModule.register(config),
            ],
            providers: [{ provide: core_1.APP_FILTER, useClass: problem_filter_1.ProblemFilter }, time_zones_1.TimeZoneCatalog],
        };
    }
};
exports.AppModule = AppModule;
exports.AppModule = AppModule = AppModule_1 = __decorate([
    (0, common_1.Module)({})
], AppModule);
//# sourceMappingURL=app.module.js.map