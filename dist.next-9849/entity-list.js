"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.ENTITIES = void 0;
// Every TypeORM entity, listed explicitly (no glob), so compiled and ts-jest runs see the same set.
const api_key_entity_1 = require("./auth/api-key.entity");
const subscriber_entity_1 = require("./subscribers/subscriber.entity");
const topic_entity_1 = require("./topics/topic.entity");
exports.ENTITIES = [api_key_entity_1.ApiKey, topic_entity_1.Topic, subscriber_entity_1.Subscriber, subscriber_entity_1.TopicSubscription];
//# sourceMappingURL=entity-list.js.map